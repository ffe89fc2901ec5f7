"""Reading results: derived metrics, plots, the effects, the HTML report. Never imports torch."""
