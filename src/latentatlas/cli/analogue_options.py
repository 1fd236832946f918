"""The analogue options' flags, made from :class:`AnalogueOptions`' fields: :func:`analogue_options` adds them to a command."""

from __future__ import annotations

import functools
import inspect
from dataclasses import fields
from typing import Annotated, Any, Callable, Optional

import typer

from ..analogues.options import AnalogueOptions

__all__ = ["analogue_options", "ANALOGUE_FLAGS"]

_OPTIONS: dict[str, Any] = {  # one flag per field of AnalogueOptions, with the field's help
    option.name: Annotated[Optional[str], typer.Option("--" + option.name.replace("_", "-"), help=option.metadata["help"])]
    for option in fields(AnalogueOptions)}
ANALOGUE_FLAGS = ", ".join("--" + name.replace("_", "-") for name in _OPTIONS)


def analogue_options(command: Callable) -> Callable:
    """``command`` with the analogue flags in place of its ``analogue`` parameter, which receives them as one :class:`AnalogueOptions`.

    The flags take the place of ``analogue`` in the command's help; an
    error naming an option names its flag.
    """
    signature = inspect.signature(command, eval_str=True)
    parameters = list(signature.parameters.values())
    at = [p.name for p in parameters].index("analogue")
    flags = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=hint)
             for name, hint in _OPTIONS.items()]

    @functools.wraps(command)
    def run(*args: Any, **kwargs: Any) -> Any:
        values = {name: kwargs.pop(name, None) for name in _OPTIONS}
        return command(*args, analogue=AnalogueOptions.of(**values), **kwargs)

    run.__signature__ = signature.replace(parameters=[*parameters[:at], *flags, *parameters[at + 1:]])
    run.__annotations__ = {**{k: v for k, v in command.__annotations__.items() if k != "analogue"}, **_OPTIONS}
    return run
