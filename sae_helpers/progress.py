"""Progress bars that a saved notebook shows finished.

A tqdm bar in a notebook is a widget, and a page rendered from the executed notebook (GitHub,
nbviewer, the course site) shows it as drawn first: "0/600". `progress_bar` instead draws one line
of HTML with a text twin and updates it in place through a display handle, at most every
`REFRESH_S` seconds and once at the end, so the saved notebook holds the last update:
"training (l1): 600/600 epochs". Outside a notebook kernel it is a plain tqdm bar on stderr.

nbval sees only the first drawing ("0/600 epochs"), never the updates: tests/nbval_sanitize.cfg
replaces the count done before it compares the line.
"""

import html
import time

from IPython import get_ipython
from IPython.display import display
from tqdm import tqdm

REFRESH_S = 0.2  # seconds between redraws while running


class NotebookProgress:
    """Iterates over `iterable` (of known length) and draws "desc: done/total unit" as it goes;
    `set_postfix` adds numbers to the running line (they are left out of the final one)."""

    def __init__(self, iterable, desc, unit):
        self.iterable, self.desc, self.unit = iterable, desc, unit
        self.total, self.done, self.postfix = len(iterable), 0, ""
        self.handle = display(self._bundle(), raw=True, display_id=True)
        self.drawn_at = time.monotonic()

    def _bundle(self, final=False):
        line = f"{self.desc}: {self.done}/{self.total} {self.unit}"
        if not final:
            line += self.postfix
        return {"text/plain": line,
                "text/html": f'<progress value="{self.done}" max="{self.total}" style="vertical-align: middle">'
                             f"</progress> <code>{html.escape(line)}</code>"}

    def set_postfix(self, **values):
        self.postfix = "".join(f", {name} {value}" for name, value in values.items())

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.done += 1
                if time.monotonic() - self.drawn_at >= REFRESH_S:
                    self.handle.update(self._bundle(), raw=True)
                    self.drawn_at = time.monotonic()
        finally:  # also where the loop stopped early: the line says how far it got
            self.handle.update(self._bundle(final=True), raw=True)


def progress_bar(iterable, desc, unit, disable=False):
    """`iterable` with a progress bar named `desc`, counting in `unit` ("epochs", "steps"):
    a `NotebookProgress` in a notebook kernel, a tqdm bar elsewhere (and when `disable`)."""
    if disable or getattr(get_ipython(), "kernel", None) is None:
        return tqdm(iterable, desc=desc, unit=f" {unit}", disable=disable)
    return NotebookProgress(iterable, desc, unit)
