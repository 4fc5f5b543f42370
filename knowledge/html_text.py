"""HTML to the Markdown the chunker reads: headings stay headings, blocks become paragraphs,
scripts, styles and navigation disappear. Python's lenient HTML parser copes with broken markup;
a page with no readable text is refused by the importer."""

from __future__ import annotations

from html.parser import HTMLParser

_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_BLOCKS = {"p", "div", "section", "article", "li", "tr", "blockquote", "pre", "table", "ul", "ol", "br", "hr"}
_SKIPPED = {"script", "style", "noscript", "nav", "footer", "header", "template", "svg"}


class _Converter(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.title = ""
        self.in_title = False

    def handle_starttag(self, tag: str, attrs) -> None:  # noqa: ANN001 - HTMLParser's signature
        if tag in _SKIPPED:
            self.skip_depth += 1
        elif tag == "title":
            self.in_title = True
        elif tag in _HEADINGS:
            self.parts.append("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if tag != "li" else "\n\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED and self.skip_depth:
            self.skip_depth -= 1
        elif tag == "title":
            self.in_title = False
        elif tag in _HEADINGS or tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title += data
        elif not self.skip_depth:
            lead = " " if data[:1].isspace() else ""
            trail = " " if data[-1:].isspace() else ""
            self.parts.append(lead + " ".join(data.split()) + trail)


def html_to_markdown(html: str) -> tuple[str, str]:
    """Return (document title, Markdown body)."""
    converter = _Converter()
    converter.feed(html)
    converter.close()
    lines = [" ".join(line.split()) for line in "".join(converter.parts).split("\n")]
    paragraphs: list[str] = []
    for line in lines:
        if line and line not in ("-", "#"):
            paragraphs.append(line)
    return " ".join(converter.title.split()), "\n\n".join(paragraphs)
