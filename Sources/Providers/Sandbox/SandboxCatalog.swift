import Planner
import Spec

/// The sandbox's catalog, modelled on DigitalOcean's Droplet line-up and list prices (USD a
/// month, 2025): basic, general purpose, CPU-, memory- and storage-optimized sizes, and GPU
/// sizes offered in three regions only.
public enum SandboxCatalog {
    public static let regions: [CatalogRegion] = [
        ("nyc1", "New York 1"), ("nyc2", "New York 2"), ("nyc3", "New York 3"), ("atl1", "Atlanta 1"), ("sfo3", "San Francisco 3"),
        ("tor1", "Toronto 1"), ("ams3", "Amsterdam 3"), ("fra1", "Frankfurt 1"), ("lon1", "London 1"), ("sgp1", "Singapore 1"),
        ("blr1", "Bangalore 1"), ("syd1", "Sydney 1"),
    ].map { CatalogRegion(slug: $0.0, name: $0.1) }

    static let everywhere = regions.map(\.slug)
    static let gpuRegions = ["nyc2", "tor1", "atl1"]

    public static let catalog = Catalog(
        provider: "sandbox", currency: "USD", regions: regions, sizes: sizes,
        defaultImage: "debian-12-x64", images: ["debian-12-x64", "ubuntu-24-04-x64", "ubuntu-22-04-x64", "rockylinux-9-x64"],
        volumePricePerGiB: 0.10, defaultRegion: "nyc3")

    // slug, vCPU, memory GiB, disk GiB, monthly USD
    private static let general: [(String, Int, Int64, Int64, Double)] = [
        ("s-1vcpu-1gb", 1, 1, 25, 6), ("s-1vcpu-2gb", 1, 2, 50, 12), ("s-2vcpu-2gb", 2, 2, 60, 18), ("s-2vcpu-4gb", 2, 4, 80, 24),
        ("s-4vcpu-8gb", 4, 8, 160, 48), ("s-8vcpu-16gb", 8, 16, 320, 96),
        ("g-2vcpu-8gb", 2, 8, 25, 63), ("g-4vcpu-16gb", 4, 16, 50, 126), ("g-8vcpu-32gb", 8, 32, 100, 252),
        ("g-16vcpu-64gb", 16, 64, 200, 504), ("g-32vcpu-128gb", 32, 128, 400, 1008),
        ("c-2", 2, 4, 25, 42), ("c-4", 4, 8, 50, 84), ("c-8", 8, 16, 100, 168), ("c-16", 16, 32, 200, 336), ("c-32", 32, 64, 400, 672),
        ("m-2vcpu-16gb", 2, 16, 50, 84), ("m-4vcpu-32gb", 4, 32, 100, 168), ("m-8vcpu-64gb", 8, 64, 200, 336),
        ("m-16vcpu-128gb", 16, 128, 400, 672), ("m-32vcpu-256gb", 32, 256, 800, 1344),
        ("so-2vcpu-16gb", 2, 16, 300, 131), ("so-4vcpu-32gb", 4, 32, 600, 262), ("so-8vcpu-64gb", 8, 64, 1200, 524),
        ("so-16vcpu-128gb", 16, 128, 2400, 1048),
    ]

    private static let sizes: [SizeOffering] = general.map {
        SizeOffering(slug: $0.0, cpu: $0.1, memory: .gibibytes($0.2), disk: .gibibytes($0.3), monthlyPrice: $0.4, regions: everywhere)
    } + [
        SizeOffering(slug: "gpu-l40sx1-48gb", cpu: 8, memory: .gibibytes(64), disk: .gibibytes(500), gpu: 1, gpuModel: "L40S 48 GB",
                     monthlyPrice: 1146.10, regions: gpuRegions),
        SizeOffering(slug: "gpu-h100x1-80gb", cpu: 20, memory: .gibibytes(240), disk: .gibibytes(720), gpu: 1, gpuModel: "H100 80 GB",
                     monthlyPrice: 2474.70, regions: gpuRegions),
        SizeOffering(slug: "gpu-h100x8-640gb", cpu: 160, memory: .gibibytes(1920), disk: .gibibytes(2048), gpu: 8, gpuModel: "H100 80 GB",
                     monthlyPrice: 17453.60, regions: ["nyc2", "tor1"]),
    ]
}
