"""A round's phases, one module each: make, score (zero-day and post), retrain, evolve, commit,
and the next round's work started early. Each takes and returns the records of
`deepfake_arena.rounds.records`; `deepfake_arena.rounds.loop.RoundRunner.play` calls them in order."""
