"""`ChangelogGenerator`: the seed documents' report API over `core.changelog.render_changelog`.

Every document comes from the one renderer the `changelog` asset uses, so a script's changelog, executive
summary and audit report are the files the pipeline writes for the same delta. The seed's options map onto
those documents: `include_details=False` is the executive-summary variant, `template_path` a custom
template for the chosen document (DESIGN's template folder mechanism), `generate_audit_report` the
audit-report variant.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import weakref
from pathlib import Path

import jinja2

from inventag_pipeline.api.delta import DeltaReport
from inventag_pipeline.core.changelog import ChangelogDocuments, executive_summary, render_changelog
from inventag_pipeline.core.templating import environment

FORMATS = {"markdown": "markdown", "md": "markdown", "html": "html", "json": "json"}
# The template each (format, include_details) document renders from: the file a custom template replaces.
TEMPLATE_NAMES = {("markdown", True): "changelog.md.j2", ("markdown", False): "changelog.summary.md.j2",
                  ("html", True): "changelog.html.j2", ("html", False): "changelog.summary.html.j2"}

# The Markdown executive summary, used until a template folder (or the package) provides
# changelog.summary.md.j2: the same figures as changelog.summary.html, for chat, tickets and CI logs.
_SUMMARY_MD = """\
# Executive summary — {{ account_label }} — {{ date }}

{{ headline }}

**Risk level:** {{ executive.risk_level }}

| Change type | Count |
|---|---:|
{% for t, n in summary.counts.change_type.items() %}
| {{ t }} | {{ n }} |
{% endfor %}

| Severity | Count |
|---|---:|
{% for s in severities %}
| {{ s }} | {{ summary.counts.severity[s] }} |
{% endfor %}

## Key findings

{% for f in executive.key_findings %}
- {{ f | md_escape }}
{% else %}
- No changes.
{% endfor %}

## Immediate actions

{% for a in executive.immediate_actions %}
{{ loop.index }}. {{ a | md_escape }}
{% endfor %}
{% if executive.tag_compliance is not none %}

Required tags: {{ executive.tag_compliance | pct }} of resources compliant
{%- if executive.previous_tag_compliance is not none %} (was {{ executive.previous_tag_compliance | pct }}
{%- if executive.tag_direction %}, {{ executive.tag_direction }}{% endif %}){% endif %}.
{% endif %}
"""


def _format(name: str) -> str:
    try:
        return FORMATS[name.lower()]
    except KeyError:
        raise ValueError(f"unknown format {name!r}: choose one of {', '.join(FORMATS)}") from None


class ChangelogGenerator:
    """Renders a `DeltaReport` as the pipeline's changelog documents.

    `template_dir` (default INVENTAG_TEMPLATE_DIR, as the pipeline) holds custom templates named like the
    built-in ones; each file missing there falls back to the package's. `account_name` labels the account.
    """

    def __init__(self, template_dir: str | None = None, account_name: str | None = None):
        self.template_dir = template_dir or os.environ.get("INVENTAG_TEMPLATE_DIR") or None
        self.account_name = account_name
        # Every document of a report comes from one render: cache it per report and template folder.
        self._rendered: weakref.WeakKeyDictionary[DeltaReport, dict[str | None, ChangelogDocuments]] = (
            weakref.WeakKeyDictionary())
        self._staging: Path | None = None

    def _template_folder(self, template: Path, name: str) -> str:
        """A folder holding `template` under the built-in `name`, so the renderer's folder lookup picks it up.

        Inside this generator's private temporary folder (removed with the generator) and named after the
        content, so repeated renders reuse one folder and Jinja's caches (a warm Lambda keeps its /tmp).
        """
        if self._staging is None:
            self._staging = Path(tempfile.mkdtemp(prefix="inventag-templates-"))
            weakref.finalize(self, shutil.rmtree, self._staging, True)
        data = template.read_bytes()
        folder = self._staging / hashlib.sha256(name.encode() + b"\0" + data).hexdigest()[:24]
        if not (folder / name).is_file():
            folder.mkdir()
            (folder / name).write_bytes(data)
        return str(folder)

    def documents(self, delta_report: DeltaReport, template_dir: str | None = None) -> ChangelogDocuments:
        """All documents of one report (markdown, html, json, summary_html, audit_html) and their context."""
        folder = template_dir or self.template_dir
        cache = self._rendered.setdefault(delta_report, {})
        if folder not in cache:
            result = delta_report.result
            cache[folder] = render_changelog(result.resource_changes, result.attribute_changes, result.summary,
                                             account_name=self.account_name, template_dir=folder,
                                             history=delta_report.history, provenance=delta_report.provenance)
        return cache[folder]

    def generate_changelog(self, delta_report: DeltaReport, format: str = "markdown", include_details: bool = True,
                           include_executive_summary: bool = True, template_path: str | None = None) -> str:
        """The changelog as markdown, html or json.

        Markdown and HTML always open with the summary (`include_executive_summary` is accepted for the
        seed's calls); `include_details=False` gives the executive summary alone. JSON always carries every
        change. `template_path` is a template folder, or one template file used for the requested document.
        """
        kind = _format(format)
        if kind == "json":
            if template_path:
                raise ValueError("changelog.json is not rendered from a template; template_path applies to "
                                 "markdown and html")
            return self.documents(delta_report).json
        if template_path and Path(template_path).is_file():
            folder = self._template_folder(Path(template_path), TEMPLATE_NAMES[(kind, include_details)])
            return self._document(delta_report, kind, include_details, folder)
        if template_path and not Path(template_path).is_dir():
            raise FileNotFoundError(f"template_path {template_path!r} is neither a template file nor a folder")
        return self._document(delta_report, kind, include_details, template_path)

    def _document(self, delta_report: DeltaReport, kind: str, details: bool, folder: str | None) -> str:
        if kind == "markdown" and not details:
            return self._summary_markdown(delta_report, folder)
        docs = self.documents(delta_report, folder)
        return {("markdown", True): docs.markdown, ("html", True): docs.html,
                ("html", False): docs.summary_html}[(kind, details)]

    def _summary_markdown(self, delta_report: DeltaReport, folder: str | None) -> str:
        context = self.documents(delta_report, folder).context
        env = environment(folder or self.template_dir, autoescape=False)
        try:
            template = env.get_template(TEMPLATE_NAMES[("markdown", False)])
        except jinja2.TemplateNotFound:
            template = env.from_string(_SUMMARY_MD)
        return template.render(**context, executive=executive_summary(context))

    def generate_executive_summary(self, delta_report: DeltaReport, format: str = "markdown") -> str:
        """Risk level, key findings and immediate actions: markdown, html, or json (the figures themselves)."""
        kind = _format(format)
        if kind == "json":
            data = executive_summary(self.documents(delta_report).context)
            return json.dumps(data, indent=2, ensure_ascii=False) + "\n"
        return self._document(delta_report, kind, False, None)

    def generate_audit_report(self, delta_report: DeltaReport, compliance_context: bool = True,
                              security_focus: bool = True) -> str:
        """The audit-report HTML: provenance of both snapshots, the security/IAM/network/compliance attribute
        register and the resource register, with the SHA-256 of the complete changelog.json.

        It always carries the compliance context and the security register; `compliance_context` and
        `security_focus` are accepted for the seed's calls.
        """
        return self.documents(delta_report).audit_html

    def export_changelog(self, changelog: str | bytes, output_file: str | Path) -> str:
        """Write a generated document to a file (folders created); returns its path."""
        path = Path(output_file)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(changelog.encode("utf-8") if isinstance(changelog, str) else changelog)
        return str(path)

