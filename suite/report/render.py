"""Lays sections out and turns their blocks into one self-contained HTML file.

Escaping happens here and only here: the template autoescapes every value, and
blocks carry text, never markup. A section that raises, or returns something
that is not a block, becomes a warning note; the rest of the report is kept.
"""

from __future__ import annotations

import base64
import hashlib
import math
import numbers
import re
import warnings
from importlib import resources

import jinja2
import markupsafe

import suite
from suite.errors import one_line
from suite.report.blocks import BLOCKS, Code, Figure, Note, Table, Text
from suite.report.data import Report
from suite.report.text import count
from suite.specs import SectionSpec

# Landscape sections are laid out, per landscape, between the run sections
# ordered below this and those at or above it.
LANDSCAPES_AT = 100


def _anchor(text: str, taken: set[str]) -> str:
    base = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60] or "section"
    anchor, n = base, 1
    while anchor in taken:
        n += 1
        anchor = f"{base}-{n}"
    taken.add(anchor)
    return anchor


def _parts(label: str) -> tuple[str, dict[str, str], str]:
    """``bowl(condition=10.0, dim=3)#2`` as ``("bowl", {"condition": "10.0", "dim": "3"}, "2")``.

    Values are split at the commas between them only (a value may be a quoted
    string or a list holding commas); a label of another shape is its own family.
    """
    base, hash_, instance = label.rpartition("#")
    if not (hash_ and instance.isdigit() and base.endswith(")")):
        base, instance = label, ""
    family, paren, inner = base.partition("(")
    if not paren or not inner.endswith(")"):
        return base, {}, instance
    items, depth, quote, current = [], 0, "", ""
    for char in inner[:-1]:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        elif char == "," and depth == 0:
            items.append(current)
            current = ""
            continue
        current += char
    items.append(current)
    values = dict(item.strip().partition("=")[::2] for item in items if "=" in item)
    return family, values, instance


def _value_text(value: str) -> str:
    """A parameter value as the navigation shows it: ``1000.0`` as ``1000``, ``'small'`` as ``small``."""
    if re.fullmatch(r"-?\d+\.0", value):
        return value[:-2]
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def _short_names(labels: list[str]) -> dict[str, str]:
    """Navigation names: the family (``bowl``), with the parameters in which its settings differ
    where a family appears with several (``bowl condition=10``, ``bowl condition=1000``), and
    ``#k`` for instances. No two names are the same."""
    parsed = {label: _parts(label) for label in labels}
    settings: dict[str, dict[tuple, dict[str, str]]] = {}
    for family, values, _ in parsed.values():
        settings.setdefault(family, {})[tuple(sorted(values.items()))] = values
    names = {}
    for label, (family, values, instance) in parsed.items():
        same = list(settings[family].values())
        differing = [k for k in sorted({k for v in same for k in v}) if len({v.get(k) for v in same}) > 1]
        name = " ".join([family, *(f"{k}={_value_text(values[k])}" for k in differing if k in values)])
        names[label] = name + (f" #{instance}" if instance else "")
    counts: dict[str, int] = {}
    for label in labels:  # labels of a shape not parsed alike: numbered, never two the same
        counts[names[label]] = counts.get(names[label], 0) + 1
    seen: dict[str, int] = {}
    for label in labels:
        name = names[label]
        if counts[name] > 1:
            seen[name] = seen.get(name, 0) + 1
            names[label] = f"{name} ({seen[name]})"
    return names


def run_section(spec: SectionSpec, report: Report, *args) -> list[dict]:
    """The blocks of one section, ready for the template, or a note saying why it has none.

    Rendering and converting (drawing figures, formatting tables) both happen
    here, so a section that hands back a broken figure or table is contained
    like one that raises.
    """
    import matplotlib.pyplot as plt

    try:
        with warnings.catch_warnings():
            # Degenerate axes (every restart at one loss) warn; the figure is still right.
            warnings.simplefilter("ignore", UserWarning)
            warnings.simplefilter("ignore", DeprecationWarning)  # seaborn calling matplotlib
            warnings.simplefilter("ignore", RuntimeWarning)  # log-axis ticks near float limits
            blocks = list(spec.render(report, *args) or [])
            wrong = [b for b in blocks if not isinstance(b, BLOCKS)]
            if wrong:
                raise TypeError(f"returned {type(wrong[0]).__name__}, not a suite.report block "
                                f"({', '.join(b.__name__ for b in BLOCKS)})")
            return [_block(b, spec.name) for b in blocks]
    except Exception as exc:  # noqa: BLE001 - one broken section never takes the report down
        plt.close("all")
        note = Note(f"Section {spec.name!r} (plugin {spec.plugin!r}) failed: {one_line(exc)[:500]}",
                    kind="warning")
        return [_block(note, spec.name)]


def _cell(value, float_format: str) -> dict:
    if isinstance(value, bool) or value is None:
        return {"text": "" if value is None else str(value), "num": False}
    if isinstance(value, numbers.Real):
        value = float(value)
        if math.isnan(value):
            return {"text": "", "num": True, "sort": ""}
        if math.isinf(value):
            text = "∞" if value > 0 else "−∞"
        elif value.is_integer() and abs(value) < 1e6:
            text = f"{int(value)}"
        else:
            text = float_format.format(value)
        return {"text": text, "num": True, "sort": "Infinity" if math.isinf(value) else repr(value)}
    return {"text": str(value), "num": False}


def _block(block, section: str) -> dict:
    if isinstance(block, Text):
        return {"kind": "text", "text": str(block.text)}
    if isinstance(block, Code):
        return {"kind": "code", "text": str(block.text), "fold": str(block.fold or "")}
    if isinstance(block, Note):
        return {"kind": "note", "text": str(block.text),
                "level": block.kind if block.kind in ("info", "warning") else "info"}
    if isinstance(block, Table):
        frame = block.frame.reset_index() if block.index else block.frame
        return {"kind": "table", "columns": [str(c) for c in frame.columns],
                "rows": [[_cell(v, block.float_format) for v in row]
                         for row in frame.itertuples(index=False, name=None)],
                "caption": str(block.caption), "sortable": block.sortable, "fold": str(block.fold or "")}
    if not isinstance(block, Figure):  # run_section lets only blocks through
        raise TypeError(f"not a suite.report block: {type(block).__name__}")
    image = block.encode()
    return {"kind": "figure", "image": image, "caption": str(block.caption),
            "flags": [str(f) for f in block.flags], "alt": str(block.alt or block.caption),
            "section": section}


def render(report: Report, sections: dict[str, SectionSpec], progress=None) -> str:
    """The report as one HTML document.

    Args:
      report: the run folder, read.
      sections: every registered section, by name.
      progress: called with a short description before each section, if given.
    """
    ordered = sorted(sections.values(), key=lambda s: (s.order, s.name))
    run_specs = [s for s in ordered if s.scope == "run"]
    landscape_specs = [s for s in ordered if s.scope == "landscape"]
    taken: set[str] = set()
    parts, nav = [], []

    def say(text: str) -> None:
        if progress is not None:
            progress(text)

    def run_part(spec):
        say(spec.title)
        blocks = run_section(spec, report)
        if not blocks:
            return
        anchor = _anchor(spec.title, taken)
        parts.append({"kind": "section", "anchor": anchor, "title": spec.title, "blocks": blocks})
        nav.append({"anchor": anchor, "text": spec.title})

    for spec in run_specs:
        if spec.order < LANDSCAPES_AT:
            run_part(spec)
    short = _short_names(report.landscapes)
    for landscape in report.landscapes:
        subs = []
        for spec in landscape_specs:
            say(f"{landscape} · {spec.title}")
            blocks = run_section(spec, report, landscape)
            if blocks:
                subs.append({"title": spec.title, "blocks": blocks})
        anchor = _anchor(short[landscape], taken)
        parts.append({"kind": "landscape", "anchor": anchor, "title": landscape, "sections": subs})
        nav.append({"anchor": anchor, "text": short[landscape]})
    for spec in run_specs:
        if spec.order >= LANDSCAPES_AT:
            run_part(spec)

    meta = report.metadata
    title = f"suite report: {report.name}"
    subtitle = (f"{count(len(report.landscapes), 'landscape')} · {count(len(report.entries), 'entry')} · "
                f"{count(len(report.ok), 'cell')} finished · started {meta.get('started') or '?'}")
    return page("template.html", title=title, subtitle=subtitle, nav=nav, parts=parts)


def csp_hash(text: str) -> str:
    """The Content-Security-Policy source that allows exactly this inline script or style: ``'sha256-…'``.

    The browser hashes the element's text as UTF-8, between its tags, as written.
    """
    digest = hashlib.sha256(str(text).encode("utf-8")).digest()
    return markupsafe.Markup(f"'sha256-{base64.b64encode(digest).decode('ascii')}'")  # base64 and quotes only


def page(template: str, **values) -> str:
    """Renders one of the package's HTML templates, values escaped, with the filters they use.

    ``csp_hash`` gives the policy source of a block the template captured with
    ``{% set %}`` and writes out as is, so the policy allows that text and no other.
    """
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined,
                             trim_blocks=True, lstrip_blocks=True)
    env.filters["csp_hash"] = csp_hash
    env.filters["count"] = count
    source = resources.files("suite.report").joinpath(template).read_text(encoding="utf-8")
    return env.from_string(source).render(version=suite.__version__, **values)
