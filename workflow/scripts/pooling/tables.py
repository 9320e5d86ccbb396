"""Numbers as a paper prints them, and tables in Markdown and LaTeX (booktabs).

The rounding rule: a number is shown to the decimal place of the first significant
digit of its error, so that it claims no more precision than it has (a posterior mean
with MCSE 0.032 to two decimals, an elpd with se 4.3 to whole units); the error itself
keeps two significant digits. Rounding is half away from zero on the number's decimal
representation (2.25 -> 2.3), so a given value always prints the same string.
"""

import math
import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

import pandas as pd

FALLBACK_DIGITS = 4  # significant digits of a value whose error is 0 or unknown
ERROR_DIGITS = 2  # significant digits an error is shown with

# LaTeX's special characters, and the few non-ASCII symbols the generated text uses,
# as pdfLaTeX reads them without extra packages (longest first: R̂ is two code points)
_LATEX = {
    "R\u0302": r"$\hat{R}$", "\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$",
    "#": r"\#", "_": r"\_", "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}", "|": r"\textbar{}", "<": r"\textless{}", ">": r"\textgreater{}",
    "≥": r"$\geq$", "≤": r"$\leq$", "±": r"$\pm$", "−": "-", "–": "--", "—": "---", "×": r"$\times$",
}
_LATEX_PATTERN = re.compile("|".join(re.escape(k) for k in sorted(_LATEX, key=len, reverse=True)))


def latex_escape(text):
    """`text` with every character LaTeX would misread replaced by its command."""
    return _LATEX_PATTERN.sub(lambda match: _LATEX[match.group(0)], str(text))


def _finite(value):
    return value is not None and not pd.isna(value) and math.isfinite(float(value))


def _quantized(value, place):
    """`value` rounded half away from zero to 10**place, as text (no "-0")."""
    rounded = Decimal(repr(float(value))).quantize(Decimal(1).scaleb(place), rounding=ROUND_HALF_UP)
    if rounded == 0:
        rounded = abs(rounded)
    return f"{rounded:f}" if place <= 0 else str(int(rounded))


def _leading_place(number):
    """The power of ten of `number`'s first significant digit (0.032 -> -2, 4.3 -> 0)."""
    return math.floor(math.log10(abs(float(number))))


def significant(value, digits=FALLBACK_DIGITS):
    """`value` to `digits` significant digits ("" for a missing value)."""
    if not _finite(value):
        return ""
    if float(value) == 0:
        return "0"
    return _quantized(value, _leading_place(value) - digits + 1)


def round_to_error(value, error):
    """`value` to the decimal place of the first significant digit of `error` (its
    Monte Carlo or standard error): 7.7991 with error 0.08 is "7.80", 123.4 with 35
    is "120". Without a usable error (0, as the best model's elpd difference has, or
    missing) the value keeps FALLBACK_DIGITS significant digits."""
    if not _finite(value):
        return ""
    if not _finite(error) or float(error) == 0:
        return significant(value)
    return _quantized(value, _leading_place(error))


def error_text(error):
    """An error (se, dse) with ERROR_DIGITS significant digits."""
    return significant(error, ERROR_DIGITS)


def fixed(value, decimals):
    """A number with no error of its own (R-hat, a weight, a Pareto k) to `decimals`."""
    return _quantized(value, -decimals) if _finite(value) else ""


def whole(value):
    """A count or an effective sample size, as a whole number."""
    return _quantized(value, 0) if _finite(value) else ""


@dataclass(frozen=True)
class Column:
    key: str  # the frame's column
    markdown: str  # its header in Markdown (Unicode allowed)
    latex: str  # its header in LaTeX (raw: not escaped)
    numeric: bool = True  # right-aligned


@dataclass(frozen=True)
class Table:
    """Formatted cells (text) with what a reader needs to read them: `title` (a
    heading), `caption` (the scale, the rounding, what is left out), `label` (LaTeX)."""

    name: str  # the file stem: tables/{name}.md and .tex
    title: str
    caption: str
    columns: tuple
    frame: pd.DataFrame
    long: bool = False  # a LaTeX longtable, which breaks across pages (\usepackage{longtable})

    def _cells(self, header, escape):
        cells = self.frame[[c.key for c in self.columns]].astype(str)
        if escape:
            cells = cells.map(latex_escape)
        cells.columns = [getattr(c, header) for c in self.columns]
        return cells

    def to_markdown(self):
        """A heading, the caption and a pipe table (tabulate, through pandas), the
        cells verbatim: number parsing would undo the rounding ("7.80" -> "7.8")."""
        body = self._cells("markdown", escape=False).to_markdown(
            index=False, disable_numparse=True,
            colalign=["right" if c.numeric else "left" for c in self.columns])
        return f"### {self.title}\n\n{self.caption}\n\n{body}\n"

    def to_latex(self):
        """A booktabs table float (pandas' to_latex: \\toprule, \\midrule,
        \\bottomrule) with the title and caption as its caption."""
        caption = latex_escape(f"{self.title}. {self.caption}")
        return self._cells("latex", escape=True).to_latex(
            index=False, escape=False, caption=caption, label=f"tab:{self.name}", longtable=self.long,
            position=None if self.long else "htbp",
            column_format="".join("r" if c.numeric else "l" for c in self.columns))
