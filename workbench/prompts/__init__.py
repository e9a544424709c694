"""Prompt templates: rendering for completion and chat models, variable checks, hashing."""

from workbench.prompts._template import PromptTemplate, RenderedPrompt, check_template, template_variables

__all__ = ["PromptTemplate", "RenderedPrompt", "check_template", "template_variables"]
