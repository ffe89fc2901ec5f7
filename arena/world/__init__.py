"""Where real faces come from: the synthetic and folder worlds, capture drift, facesets and ingest."""
