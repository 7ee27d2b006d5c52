"""The analysis layer's exception: input it cannot analyse, said in one line a user can act on."""


class AnalysisError(ValueError):
    """Samples the analysis cannot work with (no shin strap, timestamps that never advance)."""
