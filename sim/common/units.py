"""Units shared by the model's kernels and agents."""

__all__ = ["DAYS_PER_YEAR"]

#: Days in a year, converting daily revenue to the annual turnover fines are set on.
DAYS_PER_YEAR = 365.0
