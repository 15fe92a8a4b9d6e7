print("LatentBench")
