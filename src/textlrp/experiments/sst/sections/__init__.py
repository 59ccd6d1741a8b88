"""Report sections of the SST stages: one module per stage, ``render(result, ctx) -> blocks``.

Each renders the JSON-ready result its stage's ``compute`` returned (and the runner cached):
computation and report writing are apart, so a new experiment is a compute module plus a
section module.
"""
