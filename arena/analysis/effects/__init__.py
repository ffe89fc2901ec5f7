"""The effects the field knows, measured on the arena's runs: statistics, CLI, figures."""
