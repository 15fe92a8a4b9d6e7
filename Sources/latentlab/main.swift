print("latentlab")
