"""The round loop and its phases, the Ray tasks, work started early, state between rounds, launch."""
