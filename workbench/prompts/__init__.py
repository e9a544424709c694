"""Prompt templates: rendering for completion and chat models, variable checks, hashing."""

from workbench.prompts._template import COMPLETION_STOPS, PromptTemplate, RenderedPrompt, check_system, check_template, problem_line, template_variables

__all__ = ["COMPLETION_STOPS", "PromptTemplate", "RenderedPrompt", "check_system", "check_template", "problem_line", "template_variables"]
