"""feedback.html: every test's score and message, the grader's notes, training curves (inline PNG)."""
from __future__ import annotations

import base64
import html
import io


def curve_png(curves):
    """One matplotlib figure with every curve ({label: [per-epoch values]}), as base64 PNG."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, ax = plt.subplots(figsize=(6, 3.5), dpi=90)
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
    ax.set_xlabel("epoch")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def feedback_html(results, curves=None):
    esc = html.escape
    extra = results.get("extra_data", {})
    rows = []
    for t in results["tests"]:
        color = "#e6f4ea" if t["status"] == "passed" else "#fce8e6"
        rows.append(f"<tr style='background:{color}'><td>{esc(t['name'])}</td>"
                    f"<td>{t['score']:g} / {t['max_score']:g}</td><td><pre>{esc(t.get('output', ''))}</pre></td></tr>")
    plot = ""
    if curves:
        plot = f"<h2>Training</h2><img alt='training curves' src='data:image/png;base64,{curve_png(curves)}'/>"
    board = ""
    if results.get("leaderboard"):
        board = "<h2>Leaderboard</h2><ul>" + "".join(
            f"<li>{esc(str(e['name']))}: {esc(str(e['value']))}</li>" for e in results["leaderboard"]) + "</ul>"
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Feedback: {esc(str(extra.get('assignment', '')))}</title>
<style>body{{font-family:sans-serif;max-width:60em;margin:2em auto}} td{{padding:.3em .6em;vertical-align:top}}
pre{{white-space:pre-wrap;margin:0}} table{{border-collapse:collapse;width:100%}}</style></head><body>
<h1>{esc(str(extra.get('assignment', 'Assignment')))}: {results['score']:g} / {extra.get('max_score', 0):g}</h1>
<pre>{esc(results.get('output', ''))}</pre>
<table><tr><th>Test</th><th>Score</th><th>Message</th></tr>
{''.join(rows)}
</table>
{board}{plot}
</body></html>
"""
