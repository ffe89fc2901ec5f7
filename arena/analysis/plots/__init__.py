"""The plots of a run, one module per view; all read the results files alone."""
