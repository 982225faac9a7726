"""Target formats: USD/USDZ for Isaac Sim and the embedded simulator, NuRec, PLY/SPZ."""
