# Submit (locked; the same last cell in every assignment of the course; the grader skips it).
# Run all cells, save the notebook (File > Save), then run this cell: it checks the notebook FILE as saved
# on disk (did it run top to bottom?), lists what is still unimplemented, and writes the zip to hand in (in
# seconds; on Colab it saves the notebook into your folder first). `python submit.py` in a terminal in this
# folder does the same and, if the saved notebook did not run top to bottom, runs a copy in a fresh kernel.
import os as _os
import sys as _sys

if _os.environ.get("COURSE_SUBMIT_RUN") and not _os.environ.get("NBGRADER_EXECUTION"):
    print("submit: this is submit.py's own run of a copy of the notebook; submit.py checks and zips this copy itself")
elif not _os.environ.get("NBGRADER_EXECUTION"):
    def _course_submit(assignment):
        import json
        import pathlib
        import subprocess
        import time

        path = pathlib.Path.cwd() / (assignment + ".ipynb")
        saved = False
        if "google.colab" in _sys.modules:        # Colab edits its own copy: write it into the folder
            from google.colab import _message
            nb = _message.blocking_request("get_ipynb", request="", timeout_sec=120)["ipynb"]
            path.write_text(json.dumps(nb, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
            print(f"saved this notebook to {path}")
            saved = True
        else:                                      # ask Jupyter to save, and wait a little for it
            try:
                from IPython.display import Javascript, display
                before = path.stat().st_mtime if path.exists() else 0
                display(Javascript("if (window.jupyterapp) { window.jupyterapp.commands.execute('docmanager:save'); }"
                                   " else if (window.Jupyter && Jupyter.notebook) { Jupyter.notebook.save_checkpoint(); }"))
                for _ in range(20):
                    if path.exists() and path.stat().st_mtime != before:
                        saved = True
                        break
                    time.sleep(0.25)
            except Exception:   # noqa: BLE001 - no display: the saved file is what is checked
                pass
        # Is the file on disk this run? This kernel is at execution count `count`; a file saved from this
        # run shows (about) as many, a file the kernel never saved (a non-interactive run: nbconvert --execute,
        # nbclient, papermill execute a copy in memory) shows none or another run's.
        try:
            count = get_ipython().execution_count   # noqa: F821 - defined in every IPython kernel
        except NameError:
            count = None
        try:
            cells = [c for c in json.loads(path.read_text(encoding="utf-8"))["cells"] if c.get("cell_type") == "code"
                     and c.get("metadata", {}).get("nbgrader", {}).get("grade_id") != "course_submit"]
            on_disk = max([c.get("execution_count") or 0 for c in cells] or [0])
        except (OSError, ValueError, KeyError, TypeError):
            on_disk = None
        print(f"submit: checking the notebook FILE {path.name} as saved on disk"
              + (f" (saved {time.strftime('%Y-%m-%d %H:%M', time.localtime(path.stat().st_mtime))})"
                 if path.exists() else "") + ", not this kernel's memory.")
        if count is None:
            print("submit: NOTE no notebook kernel is running this cell (run as a script?): the saved file cannot be "
                  "this run, so what follows describes the file only.")
        elif not saved and (on_disk or 0) < count - 2:
            print(f"submit: NOTE the saved file is NOT this run: this kernel is at execution count {count}, the "
                  f"file's last run cell at {on_disk or 'none'}, and this cell could not save the notebook. That is what a non-interactive run looks like (nbconvert --execute, "
                  "nbclient, papermill, a CI job: they run a copy in memory), or a save that did not finish. "
                  "'not run' below is about the file on disk, not about this run. To hand in this run: save it "
                  "and run this cell again, or run `python submit.py` in a terminal (it runs a copy and zips that).")
        _sys.stdout.flush()
        proc = subprocess.Popen([_sys.executable, "submit.py", "--no-run"], cwd=path.parent, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, text=True)
        for line in proc.stdout:
            print(line, end="")
        proc.wait()

    _course_submit("example")
    del _course_submit
