# Where you work (locked; the same first cell in every assignment of the course; the grader skips it).
# Locally and on JupyterHub it changes nothing: it prints where the notebook runs and which listed
# requirements are missing. On Google Colab it finds this assignment's folder (your Google Drive, or a
# zip of the folder that you upload), makes it the working folder, and pip-installs what requirements.txt
# lists that Colab lacks. README.md ("Where to work") has the steps.
import os as _os
import sys as _sys

if not _os.environ.get("NBGRADER_EXECUTION"):
    def _course_setup(assignment):
        import importlib.metadata
        import pathlib
        import re
        import subprocess
        import zipfile

        notebook = assignment + ".ipynb"
        colab = "google.colab" in _sys.modules
        where = ("Google Colab" if colab else "JupyterHub" if _os.environ.get("JUPYTERHUB_USER")
                 else "Jupyter on this computer")
        print(f"{assignment}: {where}, Python {_sys.version.split()[0]}")

        def holds(folder):
            return (folder / notebook).is_file() and (folder / "requirements.txt").is_file()

        def find_below(top, depth):
            top = pathlib.Path(top)
            if holds(top):
                return top
            for base, dirs, _files in _os.walk(top):
                rel = pathlib.Path(base).relative_to(top)
                dirs[:] = sorted(d for d in dirs if not d.startswith((".", "__")) and d != "sample_data")
                if len(rel.parts) >= depth:
                    dirs[:] = []
                for d in dirs:
                    if holds(pathlib.Path(base) / d):
                        return pathlib.Path(base) / d
            return None

        def unzip(path, content):
            with zipfile.ZipFile(path) as zf:
                names = zf.namelist()
                target = content if any(n.split("/")[0] == assignment for n in names) else content / assignment
                zf.extractall(target)
            print(f"unzipped {path.name} into {target}")
            return find_below(target, 2)

        def colab_folder():
            content = pathlib.Path(_os.environ.get("COLAB_CONTENT_DIR", "/content"))
            found = find_below(pathlib.Path.cwd(), 0) or find_below(content, 2)
            if found:
                return found
            for path in sorted(content.glob("*.zip")):        # a zip uploaded in the Files pane
                found = unzip(path, content)
                if found:
                    return found
            try:                                                # the folder in your Google Drive
                from google.colab import drive
                drive.mount(str(content / "drive"))
                found = find_below(content / "drive" / "MyDrive", 3)
                if found:
                    return found
                print(f"no folder holding {notebook} and requirements.txt in MyDrive (3 levels deep)")
            except Exception as e:   # noqa: BLE001 - declined or unavailable: offer the upload
                print(f"Google Drive not used ({type(e).__name__}: {e})")
            print(f"Upload a zip of your {assignment} folder:")
            try:
                from google.colab import files
                uploaded = sorted(files.upload())
            except Exception as e:   # noqa: BLE001 - cancelled or unavailable
                print(f"no upload ({type(e).__name__}: {e})")
                return None
            for name in uploaded:
                if name.endswith(".zip"):
                    found = unzip(pathlib.Path.cwd() / name, content)
                    if found:
                        return found
            return None

        if colab:
            folder = colab_folder()
            if folder is None:
                print(f"Could not find your {assignment} folder: see README.md (Google Colab), then run this cell again.")
                return
            _os.chdir(folder)
            if str(folder) not in _sys.path:
                _sys.path.insert(0, str(folder))
            if str(folder).startswith(str(pathlib.Path(_os.environ.get("COLAB_CONTENT_DIR", "/content")) / "drive")):
                print("working in your Google Drive: your changes to the folder's files are kept")
            else:
                print("working in this Colab session's disk: it is erased when the session ends; download "
                      "your work (or the submission zip) before you leave")
        folder = pathlib.Path.cwd()
        print(f"working folder: {folder}")
        if not (folder / notebook).is_file():
            print(f"warning: {notebook} is not in the working folder; start Jupyter from the assignment's "
                  "folder (or open the notebook there) so that its files are found")

        def version(text):
            return tuple(int(p) for p in re.findall(r"\d+", text.split("+")[0])[:3]) + (0,) * 3

        def satisfied(spec, have):
            ops = {"==": lambda a, b: a[:3] == b[:3], "!=": lambda a, b: a[:3] != b[:3],
                   ">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
                   "<": lambda a, b: a < b}
            for op, v in re.findall(r"(==|!=|>=|<=|>|<)\s*([\w.]+)", spec):
                if not ops[op](version(have)[:3], version(v)[:3]):
                    return False
            return True

        wrong = []
        reqs = folder / "requirements.txt"
        for line in (reqs.read_text().splitlines() if reqs.is_file() else []):
            line = line.split("#")[0].strip()
            if not line:
                continue
            name = re.match(r"[A-Za-z0-9_.\-]+", line).group(0)
            try:
                have = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                have = None
            if have is None or not satisfied(line[len(name):], have):
                wrong.append((line, name, have))
        for line, _name, have in wrong:
            print(f"requirement {line}: {'not installed' if have is None else 'installed ' + have}")
        if not wrong:
            print("requirements.txt: all satisfied" if reqs.is_file() else "no requirements.txt here")
        elif colab:
            print("installing:", " ".join(line for line, _, _ in wrong))
            run = subprocess.run([_sys.executable, "-m", "pip", "install", "-q", *(line for line, _, _ in wrong)],
                                 capture_output=True, text=True)
            print(run.stdout[-2000:] + run.stderr[-2000:] if run.returncode else "installed")
            modules = {n.lower().replace("-", "_").replace("scikit_learn", "sklearn") for _, n, _ in wrong}
            if run.returncode == 0 and any(m in _sys.modules for m in modules):
                print("Restart the session now (Runtime > Restart session), then run the notebook from the top: "
                      "a package that was already loaded has changed.")
        else:
            print("install them in this environment: pip install -r requirements.txt")

    _course_setup("example")
    del _course_setup
