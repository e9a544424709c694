"""A prompt of the grid (``PromptSpec``): a template written in the experiment or read from a file."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from workbench.prompts import PromptTemplate, check_system, check_template
from workbench.spec._base import _Spec
from workbench.spec._names import Name, PathText


class PromptSpec(_Spec):
    """A prompt template, inline (``template``) or from a file (``file``, relative to the experiment file), and an
    optional ``system`` message, sent as written (placeholders are filled in the template only)."""

    name: Name
    template: str | None = Field(default=None, description="the prompt, with {question} and usually {context} (give it or file)")
    file: PathText | None = Field(default=None, description="a text file holding the template, relative to the experiment file (give it or template)")
    system: str = Field(default="", description="a system message, sent as written (its placeholders are not filled in)")

    @field_validator("template", "system")
    @classmethod
    def _as_a_file_reads(cls, value: str | None) -> str | None:
        # as a prompt file and a YAML string are read: a template given with Windows (\r\n) or old Mac (\r) line ends
        # from Python had another hash than the same template read from a file, and its bundle's prompt file, read
        # back with \n, no longer matched the promoted prompt's sha256, so the bundle could not be loaded; a file's
        # byte-order mark (open(path).read() of a Notepad file) reached the model as an invisible first character
        return _as_a_file_reads(value) if value is not None else None

    @field_validator("template")
    @classmethod
    def _renders(cls, value: str | None) -> str | None:
        # a field's check, so its error names prompts[i].template, not the whole entry
        if value is not None:
            check_template(value)
        return value

    @model_validator(mode="after")
    def _one_source(self) -> PromptSpec:
        if (self.template is None) == (self.file is None):
            raise ValueError("give exactly one of 'template' or 'file'")
        check_system(self.system)  # sent as written: a placeholder in it reached the model as the text '{context}'
        return self

    def as_template(self) -> PromptTemplate:
        """The template its variants render (a ``file``'s text is read into ``template`` as the experiment loads)."""
        return PromptTemplate(self.name, self.template or "", self.system)


def _as_a_file_reads(text: str) -> str:
    return text.removeprefix("\ufeff").replace("\r\n", "\n").replace("\r", "\n")
