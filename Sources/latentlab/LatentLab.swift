import ArgumentParser

/// `latentlab`: StyleGAN2 inversion and latent editing on the CPU.
@main
struct LatentLab: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "latentlab",
        abstract: "GAN inversion and latent editing for StyleGAN2 generators, on the CPU.",
        discussion: """
        Without --network, commands use the embedded default generator (scenes64: 64×64 tabletop scenes).
        Threads: LATENTLAB_THREADS (our loops) and OPENBLAS_NUM_THREADS (GEMM) default to all cores.
        """,
        subcommands: [Inspect.self, Generate.self, Convert.self, Encode.self, TrainEncoder.self, Invert.self, Project.self, Edit.self,
                      Directions.self, Clip.self])
}
