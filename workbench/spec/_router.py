"""A router of the grid: a cheap model that escalates to a strong one (``EscalationSpec``, ``RouterSpec``), and
``ModelEntry``, a ``models:`` entry that is either a model or a router."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Discriminator, Field, Tag, model_validator

from workbench.spec._base import _Spec
from workbench.spec._models import ModelSpec
from workbench.spec._names import Name


class EscalationSpec(_Spec):
    """When a router hands a question to its strong model: any signal that is set and fires escalates it."""

    retrieval_score_below: float | None = Field(
        default=None, ge=-1.0, le=1.0,
        description="escalate when the best retrieval score (cosine similarity) is below this; known before answering, "
        "so the cheap model is not called",
    )
    refusal_or_empty: bool = Field(default=False, description="escalate when the cheap answer is empty or a refusal")
    grounding_below: float | None = Field(
        default=None, ge=-1.0, le=1.0,
        description="escalate when the cheap answer's largest embedding similarity to a retrieved chunk is below this "
        "(embedded with the variant's retrieval embedding model)",
    )

    @model_validator(mode="after")
    def _some_signal(self) -> EscalationSpec:
        if self.retrieval_score_below is None and not self.refusal_or_empty and self.grounding_below is None:
            raise ValueError(
                "no escalation signal is set — set retrieval_score_below, refusal_or_empty: true or grounding_below"
            )
        return self


class RouterSpec(_Spec):
    """A cost-aware router: answers with ``cheap`` and escalates a question to ``strong`` when a signal fires."""

    name: Annotated[Name, Field(description="the router's name (its variants' model name)")]
    cheap: ModelSpec = Field(description="the model that answers first")
    strong: ModelSpec = Field(description="the model that answers the escalated questions")
    escalate_when: EscalationSpec = Field(description="the signals that hand a question to strong (at least one)")

    @model_validator(mode="before")
    @classmethod
    def _no_nested_router(cls, data: Any) -> Any:
        # a router as cheap or strong was refused as "cheap.id: required field is missing — add it"
        for role in ("cheap", "strong"):
            if isinstance(data, dict) and isinstance(data.get(role), dict) and "router" in data[role]:
                raise ValueError(f"{role} is a router — routers do not nest: give {role} a model ({{id: ..., params: ...}}), "
                                 "and put a second router beside this one in models: if you want both")
        return data

    @model_validator(mode="after")
    def _two_models(self) -> RouterSpec:
        # what decides an answer: a name, the cache flag, a kind left to its default or a time limit do not, so two
        # entries differing only in those would answer every escalated question with the cheap answer again
        def answering(m: ModelSpec) -> tuple[Any, ...]:
            return (m.id, m.resolved_kind, m.params.temperature, m.params.max_tokens, m.params.stop, m.params.sampler(), m.window)

        if answering(self.cheap) == answering(self.strong):
            raise ValueError(f"cheap and strong are the same model ({self.cheap.id}) — route between two different models")
        return self

    @property
    def id(self) -> str:
        """``router:<name>``: what the leaderboard's model column shows."""
        return f"router:{self.name}"

    @property
    def short_name(self) -> str:
        return self.name

    @property
    def models(self) -> tuple[ModelSpec, ModelSpec]:
        """(cheap, strong)."""
        return (self.cheap, self.strong)

    def as_answering(self) -> RouterSpec:
        """This router with its models' settings that cannot change an answer at their defaults (``ModelSpec.as_answering``)."""
        return self.model_copy(update={"cheap": self.cheap.as_answering(), "strong": self.strong.as_answering()})


class RouterEntry(_Spec):
    """A models-axis entry ``router: {name, cheap, strong, escalate_when}``: a router is a variant like any model."""

    router: RouterSpec = Field(description="a cheap model, a strong one and when to escalate")


def _entry_kind(value: Any) -> str:
    is_router = isinstance(value, RouterEntry) or (isinstance(value, dict) and "router" in value)
    return _ROUTER_TAG if is_router else _MODEL_TAG


# union tags pydantic puts in error locations; they are not YAML keys (dropped from the located error)
_MODEL_TAG, _ROUTER_TAG = "model-entry", "router-entry"
ModelEntry = Annotated[
    Annotated[ModelSpec, Tag(_MODEL_TAG)] | Annotated[RouterEntry, Tag(_ROUTER_TAG)], Discriminator(_entry_kind)
]
