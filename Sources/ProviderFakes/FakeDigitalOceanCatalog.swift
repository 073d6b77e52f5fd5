/// The fake DigitalOcean's own catalog: what its `/v2/sizes` and `/v2/regions` serve.
///
/// Transcribed mechanically from `shared/catalogs/digitalocean-sizes.csv` (DigitalOcean's
/// `/v2/sizes` of 2026-08-21, in the API's units: memory in MiB, disk in GiB, monthly USD; see
/// `shared/catalogs/SOURCES.md`), not taken from the product: a bug in how the adapter reads a
/// catalog cannot pass by reading back its own data. The snapshot has no regions per size, so the
/// fake offers every size in every region of its own, and GPU sizes only in three of them (eight-GPU
/// sizes in two), as DigitalOcean does.
enum FakeDigitalOceanCatalog {
    struct Size {
        var slug: String
        var vcpus: Int
        var memoryMiB: Int
        var diskGiB: Int
        var monthly: Double
        var gpus: Int
        var gpuModel: String?

        init(_ slug: String, vcpus: Int, memoryMiB: Int, diskGiB: Int, monthly: Double, gpus: Int, gpuModel: String?) {
            self.slug = slug
            self.vcpus = vcpus
            self.memoryMiB = memoryMiB
            self.diskGiB = diskGiB
            self.monthly = monthly
            self.gpus = gpus
            self.gpuModel = gpuModel
        }

        /// The memory of all its GPUs, from the slug's `-<n>gb` part (`gpu-h100x8-640gb`: 640).
        var gpuMemoryGiB: Int {
            let part = slug.split(separator: "-").first { $0.hasSuffix("gb") && Int($0.dropLast(2)) != nil }
            return part.flatMap { Int($0.dropLast(2)) } ?? 0
        }

        /// Where the fake offers the size.
        var regions: [String] {
            guard gpus > 0 else { return FakeDigitalOceanCatalog.regions.map(\.slug) }
            return gpus > 1 ? ["nyc2", "tor1"] : ["nyc2", "tor1", "atl1"]
        }
    }

    /// Slug and name of each region.
    static let regions: [(slug: String, name: String)] = [
        ("nyc1", "New York 1"), ("nyc2", "New York 2"), ("nyc3", "New York 3"), ("atl1", "Atlanta 1"), ("sfo3", "San Francisco 3"),
        ("tor1", "Toronto 1"), ("ams3", "Amsterdam 3"), ("fra1", "Frankfurt 1"), ("lon1", "London 1"), ("sgp1", "Singapore 1"),
        ("blr1", "Bangalore 1"), ("syd1", "Sydney 1"),
    ]

    /// Images a droplet may be made from.
    static let images = ["debian-12-x64", "ubuntu-24-04-x64", "ubuntu-22-04-x64", "rockylinux-9-x64"]

    static func size(_ slug: String) -> Size? { sizes.first { $0.slug == slug } }

    static let sizes: [Size] = [
        Size("c-16", vcpus: 16, memoryMiB: 32768, diskGiB: 200, monthly: 336, gpus: 0, gpuModel: nil),
        Size("c-16-intel", vcpus: 16, memoryMiB: 32768, diskGiB: 200, monthly: 437, gpus: 0, gpuModel: nil),
        Size("c-2", vcpus: 2, memoryMiB: 4096, diskGiB: 25, monthly: 42, gpus: 0, gpuModel: nil),
        Size("c-32", vcpus: 32, memoryMiB: 65536, diskGiB: 400, monthly: 672, gpus: 0, gpuModel: nil),
        Size("c-32-intel", vcpus: 32, memoryMiB: 65536, diskGiB: 400, monthly: 874, gpus: 0, gpuModel: nil),
        Size("c-4", vcpus: 4, memoryMiB: 8192, diskGiB: 50, monthly: 84, gpus: 0, gpuModel: nil),
        Size("c-4-intel", vcpus: 4, memoryMiB: 8192, diskGiB: 50, monthly: 109, gpus: 0, gpuModel: nil),
        Size("c-48", vcpus: 48, memoryMiB: 98304, diskGiB: 600, monthly: 1008, gpus: 0, gpuModel: nil),
        Size("c-48-intel", vcpus: 48, memoryMiB: 98304, diskGiB: 600, monthly: 1310, gpus: 0, gpuModel: nil),
        Size("c-60-intel", vcpus: 60, memoryMiB: 122880, diskGiB: 750, monthly: 1639, gpus: 0, gpuModel: nil),
        Size("c-8", vcpus: 8, memoryMiB: 16384, diskGiB: 100, monthly: 168, gpus: 0, gpuModel: nil),
        Size("c-8-intel", vcpus: 8, memoryMiB: 16384, diskGiB: 100, monthly: 218, gpus: 0, gpuModel: nil),
        Size("c2-16vcpu-32gb", vcpus: 16, memoryMiB: 32768, diskGiB: 400, monthly: 376, gpus: 0, gpuModel: nil),
        Size("c2-16vcpu-32gb-intel", vcpus: 16, memoryMiB: 32768, diskGiB: 400, monthly: 489, gpus: 0, gpuModel: nil),
        Size("c2-2vcpu-4gb", vcpus: 2, memoryMiB: 4096, diskGiB: 50, monthly: 47, gpus: 0, gpuModel: nil),
        Size("c2-32vcpu-64gb", vcpus: 32, memoryMiB: 65536, diskGiB: 800, monthly: 752, gpus: 0, gpuModel: nil),
        Size("c2-32vcpu-64gb-intel", vcpus: 32, memoryMiB: 65536, diskGiB: 800, monthly: 978, gpus: 0, gpuModel: nil),
        Size("c2-48vcpu-96gb", vcpus: 48, memoryMiB: 98304, diskGiB: 1200, monthly: 1128, gpus: 0, gpuModel: nil),
        Size("c2-48vcpu-96gb-intel", vcpus: 48, memoryMiB: 98304, diskGiB: 1200, monthly: 1466, gpus: 0, gpuModel: nil),
        Size("c2-4vcpu-8gb", vcpus: 4, memoryMiB: 8192, diskGiB: 100, monthly: 94, gpus: 0, gpuModel: nil),
        Size("c2-4vcpu-8gb-intel", vcpus: 4, memoryMiB: 8192, diskGiB: 100, monthly: 122, gpus: 0, gpuModel: nil),
        Size("c2-60vcpu-120gb-intel", vcpus: 60, memoryMiB: 122880, diskGiB: 1500, monthly: 1834, gpus: 0, gpuModel: nil),
        Size("c2-8vcpu-16gb", vcpus: 8, memoryMiB: 16384, diskGiB: 200, monthly: 188, gpus: 0, gpuModel: nil),
        Size("c2-8vcpu-16gb-intel", vcpus: 8, memoryMiB: 16384, diskGiB: 200, monthly: 244, gpus: 0, gpuModel: nil),
        Size("c5-16vcpu-32gb", vcpus: 16, memoryMiB: 32768, diskGiB: 1000, monthly: 496, gpus: 0, gpuModel: nil),
        Size("c5-16vcpu-32gb-intel", vcpus: 16, memoryMiB: 32768, diskGiB: 1000, monthly: 645, gpus: 0, gpuModel: nil),
        Size("c5-2vcpu-4gb", vcpus: 2, memoryMiB: 4096, diskGiB: 125, monthly: 62, gpus: 0, gpuModel: nil),
        Size("c5-32vcpu-64gb", vcpus: 32, memoryMiB: 65536, diskGiB: 2000, monthly: 992, gpus: 0, gpuModel: nil),
        Size("c5-32vcpu-64gb-intel", vcpus: 32, memoryMiB: 65536, diskGiB: 2000, monthly: 1290, gpus: 0, gpuModel: nil),
        Size("c5-48vcpu-96gb", vcpus: 48, memoryMiB: 98304, diskGiB: 3000, monthly: 1488, gpus: 0, gpuModel: nil),
        Size("c5-48vcpu-96gb-intel", vcpus: 48, memoryMiB: 98304, diskGiB: 3000, monthly: 1934, gpus: 0, gpuModel: nil),
        Size("c5-4vcpu-8gb", vcpus: 4, memoryMiB: 8192, diskGiB: 250, monthly: 124, gpus: 0, gpuModel: nil),
        Size("c5-4vcpu-8gb-intel", vcpus: 4, memoryMiB: 8192, diskGiB: 250, monthly: 161, gpus: 0, gpuModel: nil),
        Size("c5-60vcpu-120gb-intel", vcpus: 60, memoryMiB: 122880, diskGiB: 3750, monthly: 2419, gpus: 0, gpuModel: nil),
        Size("c5-8vcpu-16gb", vcpus: 8, memoryMiB: 16384, diskGiB: 500, monthly: 248, gpus: 0, gpuModel: nil),
        Size("c5-8vcpu-16gb-intel", vcpus: 8, memoryMiB: 16384, diskGiB: 500, monthly: 322, gpus: 0, gpuModel: nil),
        Size("g-16vcpu-64gb", vcpus: 16, memoryMiB: 65536, diskGiB: 200, monthly: 504, gpus: 0, gpuModel: nil),
        Size("g-16vcpu-64gb-intel", vcpus: 16, memoryMiB: 65536, diskGiB: 240, monthly: 605, gpus: 0, gpuModel: nil),
        Size("g-2vcpu-8gb", vcpus: 2, memoryMiB: 8192, diskGiB: 25, monthly: 63, gpus: 0, gpuModel: nil),
        Size("g-2vcpu-8gb-intel", vcpus: 2, memoryMiB: 8192, diskGiB: 30, monthly: 76, gpus: 0, gpuModel: nil),
        Size("g-32vcpu-128gb", vcpus: 32, memoryMiB: 131072, diskGiB: 400, monthly: 1008, gpus: 0, gpuModel: nil),
        Size("g-32vcpu-128gb-intel", vcpus: 32, memoryMiB: 131072, diskGiB: 480, monthly: 1210, gpus: 0, gpuModel: nil),
        Size("g-40vcpu-160gb", vcpus: 40, memoryMiB: 163840, diskGiB: 500, monthly: 1260, gpus: 0, gpuModel: nil),
        Size("g-48vcpu-192gb-intel", vcpus: 48, memoryMiB: 196608, diskGiB: 720, monthly: 1814, gpus: 0, gpuModel: nil),
        Size("g-4vcpu-16gb", vcpus: 4, memoryMiB: 16384, diskGiB: 50, monthly: 126, gpus: 0, gpuModel: nil),
        Size("g-4vcpu-16gb-intel", vcpus: 4, memoryMiB: 16384, diskGiB: 60, monthly: 151, gpus: 0, gpuModel: nil),
        Size("g-60vcpu-240gb-intel", vcpus: 60, memoryMiB: 245760, diskGiB: 900, monthly: 2269, gpus: 0, gpuModel: nil),
        Size("g-8vcpu-32gb", vcpus: 8, memoryMiB: 32768, diskGiB: 100, monthly: 252, gpus: 0, gpuModel: nil),
        Size("g-8vcpu-32gb-intel", vcpus: 8, memoryMiB: 32768, diskGiB: 120, monthly: 302, gpus: 0, gpuModel: nil),
        Size("g5_5-16vcpu-64gb-intel", vcpus: 16, memoryMiB: 65536, diskGiB: 1320, monthly: 735, gpus: 0, gpuModel: nil),
        Size("g5_5-2vcpu-8gb-intel", vcpus: 2, memoryMiB: 8192, diskGiB: 165, monthly: 92, gpus: 0, gpuModel: nil),
        Size("g5_5-32vcpu-128gb-intel", vcpus: 32, memoryMiB: 131072, diskGiB: 2640, monthly: 1469, gpus: 0, gpuModel: nil),
        Size("g5_5-48vcpu-192gb-intel", vcpus: 48, memoryMiB: 196608, diskGiB: 3960, monthly: 2203, gpus: 0, gpuModel: nil),
        Size("g5_5-4vcpu-16gb-intel", vcpus: 4, memoryMiB: 16384, diskGiB: 330, monthly: 183, gpus: 0, gpuModel: nil),
        Size("g5_5-60vcpu-240gb-intel", vcpus: 60, memoryMiB: 245760, diskGiB: 4950, monthly: 2755, gpus: 0, gpuModel: nil),
        Size("g5_5-8vcpu-32gb-intel", vcpus: 8, memoryMiB: 32768, diskGiB: 660, monthly: 367, gpus: 0, gpuModel: nil),
        Size("g6_5-16vcpu-64gb", vcpus: 16, memoryMiB: 65536, diskGiB: 1300, monthly: 724, gpus: 0, gpuModel: nil),
        Size("g6_5-2vcpu-8gb", vcpus: 2, memoryMiB: 8192, diskGiB: 163, monthly: 91, gpus: 0, gpuModel: nil),
        Size("g6_5-32vcpu-128gb", vcpus: 32, memoryMiB: 131072, diskGiB: 2600, monthly: 1448, gpus: 0, gpuModel: nil),
        Size("g6_5-40vcpu-160gb", vcpus: 40, memoryMiB: 163840, diskGiB: 3250, monthly: 1810, gpus: 0, gpuModel: nil),
        Size("g6_5-4vcpu-16gb", vcpus: 4, memoryMiB: 16384, diskGiB: 325, monthly: 181, gpus: 0, gpuModel: nil),
        Size("g6_5-8vcpu-32gb", vcpus: 8, memoryMiB: 32768, diskGiB: 650, monthly: 362, gpus: 0, gpuModel: nil),
        Size("gd-16vcpu-64gb", vcpus: 16, memoryMiB: 65536, diskGiB: 400, monthly: 544, gpus: 0, gpuModel: nil),
        Size("gd-16vcpu-64gb-intel", vcpus: 16, memoryMiB: 65536, diskGiB: 480, monthly: 634, gpus: 0, gpuModel: nil),
        Size("gd-2vcpu-8gb", vcpus: 2, memoryMiB: 8192, diskGiB: 50, monthly: 68, gpus: 0, gpuModel: nil),
        Size("gd-2vcpu-8gb-intel", vcpus: 2, memoryMiB: 8192, diskGiB: 60, monthly: 79, gpus: 0, gpuModel: nil),
        Size("gd-32vcpu-128gb", vcpus: 32, memoryMiB: 131072, diskGiB: 800, monthly: 1088, gpus: 0, gpuModel: nil),
        Size("gd-32vcpu-128gb-intel", vcpus: 32, memoryMiB: 131072, diskGiB: 960, monthly: 1268, gpus: 0, gpuModel: nil),
        Size("gd-40vcpu-160gb", vcpus: 40, memoryMiB: 163840, diskGiB: 1000, monthly: 1360, gpus: 0, gpuModel: nil),
        Size("gd-48vcpu-192gb-intel", vcpus: 48, memoryMiB: 196608, diskGiB: 1440, monthly: 1901, gpus: 0, gpuModel: nil),
        Size("gd-4vcpu-16gb", vcpus: 4, memoryMiB: 16384, diskGiB: 100, monthly: 136, gpus: 0, gpuModel: nil),
        Size("gd-4vcpu-16gb-intel", vcpus: 4, memoryMiB: 16384, diskGiB: 120, monthly: 158, gpus: 0, gpuModel: nil),
        Size("gd-60vcpu-240gb-intel", vcpus: 60, memoryMiB: 245760, diskGiB: 1800, monthly: 2378, gpus: 0, gpuModel: nil),
        Size("gd-8vcpu-32gb", vcpus: 8, memoryMiB: 32768, diskGiB: 200, monthly: 272, gpus: 0, gpuModel: nil),
        Size("gd-8vcpu-32gb-intel", vcpus: 8, memoryMiB: 32768, diskGiB: 240, monthly: 317, gpus: 0, gpuModel: nil),
        Size("gpu-4000adax1-20gb", vcpus: 8, memoryMiB: 32768, diskGiB: 500, monthly: 565, gpus: 1, gpuModel: "NVIDIA RTX 4000 Ada"),
        Size("gpu-6000adax1-48gb", vcpus: 8, memoryMiB: 65536, diskGiB: 500, monthly: 1168, gpus: 1, gpuModel: "NVIDIA RTX 6000 Ada"),
        Size("gpu-b300x1-288gb-lc-spot", vcpus: 28, memoryMiB: 458752, diskGiB: 720, monthly: 8325, gpus: 1, gpuModel: "NVIDIA B300"),
        Size("gpu-b300x1-288gb-spot", vcpus: 28, memoryMiB: 458752, diskGiB: 720, monthly: 8325, gpus: 1, gpuModel: "NVIDIA B300"),
        Size("gpu-b300x8-2304gb-lc-spot", vcpus: 224, memoryMiB: 3670016, diskGiB: 2046, monthly: 66603, gpus: 8, gpuModel: "NVIDIA B300"),
        Size("gpu-b300x8-2304gb-spot", vcpus: 224, memoryMiB: 3670016, diskGiB: 2046, monthly: 66603, gpus: 8, gpuModel: "NVIDIA B300"),
        Size("gpu-h100x1-80gb", vcpus: 20, memoryMiB: 245760, diskGiB: 720, monthly: 3281, gpus: 1, gpuModel: "NVIDIA H100"),
        Size("gpu-h100x8-640gb", vcpus: 160, memoryMiB: 1966080, diskGiB: 2046, monthly: 26248, gpus: 8, gpuModel: "NVIDIA H100"),
        Size("gpu-h200x1-141gb", vcpus: 24, memoryMiB: 245760, diskGiB: 720, monthly: 3326, gpus: 1, gpuModel: "NVIDIA H200"),
        Size("gpu-h200x8-1128gb", vcpus: 192, memoryMiB: 1966080, diskGiB: 2046, monthly: 26605, gpus: 8, gpuModel: "NVIDIA H200"),
        Size("gpu-l40sx1-48gb", vcpus: 8, memoryMiB: 65536, diskGiB: 500, monthly: 1168, gpus: 1, gpuModel: "NVIDIA L40S"),
        Size("gpu-mi300x1-192gb", vcpus: 20, memoryMiB: 245760, diskGiB: 720, monthly: 1927, gpus: 1, gpuModel: "AMD MI300X"),
        Size("gpu-mi300x8-1536gb", vcpus: 160, memoryMiB: 1966080, diskGiB: 2046, monthly: 15416, gpus: 8, gpuModel: "AMD MI300X"),
        Size("gpu-mi325x1-256gb", vcpus: 20, memoryMiB: 163840, diskGiB: 720, monthly: 2827, gpus: 1, gpuModel: "AMD MI325X"),
        Size("gpu-mi325x8-2048gb", vcpus: 160, memoryMiB: 1310720, diskGiB: 2046, monthly: 22618, gpus: 8, gpuModel: "AMD MI325X"),
        Size("gpu-mi350x1-288gb-spot", vcpus: 24, memoryMiB: 262144, diskGiB: 720, monthly: 2976, gpus: 1, gpuModel: "AMD MI350X"),
        Size("gpu-mi350x8-2304gb-spot", vcpus: 192, memoryMiB: 2097152, diskGiB: 2046, monthly: 23808, gpus: 8, gpuModel: "AMD MI350X"),
        Size("gpu-mi355x1-288gb-spot", vcpus: 24, memoryMiB: 262144, diskGiB: 720, monthly: 3348, gpus: 1, gpuModel: "AMD MI355X"),
        Size("gpu-mi355x8-2304gb-spot", vcpus: 192, memoryMiB: 2097152, diskGiB: 2046, monthly: 26784, gpus: 8, gpuModel: "AMD MI355X"),
        Size("m-16vcpu-128gb", vcpus: 16, memoryMiB: 131072, diskGiB: 400, monthly: 672, gpus: 0, gpuModel: nil),
        Size("m-16vcpu-128gb-intel", vcpus: 16, memoryMiB: 131072, diskGiB: 400, monthly: 792, gpus: 0, gpuModel: nil),
        Size("m-24vcpu-192gb", vcpus: 24, memoryMiB: 196608, diskGiB: 600, monthly: 1008, gpus: 0, gpuModel: nil),
        Size("m-24vcpu-192gb-intel", vcpus: 24, memoryMiB: 196608, diskGiB: 600, monthly: 1188, gpus: 0, gpuModel: nil),
        Size("m-2vcpu-16gb", vcpus: 2, memoryMiB: 16384, diskGiB: 50, monthly: 84, gpus: 0, gpuModel: nil),
        Size("m-2vcpu-16gb-intel", vcpus: 2, memoryMiB: 16384, diskGiB: 50, monthly: 99, gpus: 0, gpuModel: nil),
        Size("m-32vcpu-256gb", vcpus: 32, memoryMiB: 262144, diskGiB: 800, monthly: 1344, gpus: 0, gpuModel: nil),
        Size("m-32vcpu-256gb-intel", vcpus: 32, memoryMiB: 262144, diskGiB: 800, monthly: 1584, gpus: 0, gpuModel: nil),
        Size("m-48vcpu-384gb-intel", vcpus: 48, memoryMiB: 393216, diskGiB: 1200, monthly: 2376, gpus: 0, gpuModel: nil),
        Size("m-4vcpu-32gb", vcpus: 4, memoryMiB: 32768, diskGiB: 100, monthly: 168, gpus: 0, gpuModel: nil),
        Size("m-4vcpu-32gb-intel", vcpus: 4, memoryMiB: 32768, diskGiB: 100, monthly: 198, gpus: 0, gpuModel: nil),
        Size("m-8vcpu-64gb", vcpus: 8, memoryMiB: 65536, diskGiB: 200, monthly: 336, gpus: 0, gpuModel: nil),
        Size("m-8vcpu-64gb-intel", vcpus: 8, memoryMiB: 65536, diskGiB: 200, monthly: 396, gpus: 0, gpuModel: nil),
        Size("m3-16vcpu-128gb", vcpus: 16, memoryMiB: 131072, diskGiB: 1200, monthly: 832, gpus: 0, gpuModel: nil),
        Size("m3-16vcpu-128gb-intel", vcpus: 16, memoryMiB: 131072, diskGiB: 1200, monthly: 880, gpus: 0, gpuModel: nil),
        Size("m3-24vcpu-192gb", vcpus: 24, memoryMiB: 196608, diskGiB: 1800, monthly: 1248, gpus: 0, gpuModel: nil),
        Size("m3-24vcpu-192gb-intel", vcpus: 24, memoryMiB: 196608, diskGiB: 1800, monthly: 1320, gpus: 0, gpuModel: nil),
        Size("m3-2vcpu-16gb", vcpus: 2, memoryMiB: 16384, diskGiB: 150, monthly: 104, gpus: 0, gpuModel: nil),
        Size("m3-2vcpu-16gb-intel", vcpus: 2, memoryMiB: 16384, diskGiB: 150, monthly: 110, gpus: 0, gpuModel: nil),
        Size("m3-32vcpu-256gb", vcpus: 32, memoryMiB: 262144, diskGiB: 2400, monthly: 1664, gpus: 0, gpuModel: nil),
        Size("m3-32vcpu-256gb-intel", vcpus: 32, memoryMiB: 262144, diskGiB: 2400, monthly: 1760, gpus: 0, gpuModel: nil),
        Size("m3-48vcpu-384gb-intel", vcpus: 48, memoryMiB: 393216, diskGiB: 3600, monthly: 2640, gpus: 0, gpuModel: nil),
        Size("m3-4vcpu-32gb", vcpus: 4, memoryMiB: 32768, diskGiB: 300, monthly: 208, gpus: 0, gpuModel: nil),
        Size("m3-4vcpu-32gb-intel", vcpus: 4, memoryMiB: 32768, diskGiB: 300, monthly: 220, gpus: 0, gpuModel: nil),
        Size("m3-8vcpu-64gb", vcpus: 8, memoryMiB: 65536, diskGiB: 600, monthly: 416, gpus: 0, gpuModel: nil),
        Size("m3-8vcpu-64gb-intel", vcpus: 8, memoryMiB: 65536, diskGiB: 600, monthly: 440, gpus: 0, gpuModel: nil),
        Size("m6-16vcpu-128gb", vcpus: 16, memoryMiB: 131072, diskGiB: 2400, monthly: 1048, gpus: 0, gpuModel: nil),
        Size("m6-24vcpu-192gb", vcpus: 24, memoryMiB: 196608, diskGiB: 3600, monthly: 1572, gpus: 0, gpuModel: nil),
        Size("m6-2vcpu-16gb", vcpus: 2, memoryMiB: 16384, diskGiB: 300, monthly: 131, gpus: 0, gpuModel: nil),
        Size("m6-32vcpu-256gb", vcpus: 32, memoryMiB: 262144, diskGiB: 4800, monthly: 2096, gpus: 0, gpuModel: nil),
        Size("m6-4vcpu-32gb", vcpus: 4, memoryMiB: 32768, diskGiB: 600, monthly: 262, gpus: 0, gpuModel: nil),
        Size("m6-8vcpu-64gb", vcpus: 8, memoryMiB: 65536, diskGiB: 1200, monthly: 524, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-1gb", vcpus: 1, memoryMiB: 1024, diskGiB: 25, monthly: 6, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-1gb-35gb-intel", vcpus: 1, memoryMiB: 1024, diskGiB: 35, monthly: 8, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-1gb-amd", vcpus: 1, memoryMiB: 1024, diskGiB: 25, monthly: 7, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-1gb-intel", vcpus: 1, memoryMiB: 1024, diskGiB: 25, monthly: 7, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-2gb", vcpus: 1, memoryMiB: 2048, diskGiB: 50, monthly: 12, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-2gb-70gb-intel", vcpus: 1, memoryMiB: 2048, diskGiB: 70, monthly: 16, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-2gb-amd", vcpus: 1, memoryMiB: 2048, diskGiB: 50, monthly: 14, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-2gb-intel", vcpus: 1, memoryMiB: 2048, diskGiB: 50, monthly: 14, gpus: 0, gpuModel: nil),
        Size("s-1vcpu-512mb-10gb", vcpus: 1, memoryMiB: 512, diskGiB: 10, monthly: 4, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-2gb", vcpus: 2, memoryMiB: 2048, diskGiB: 60, monthly: 18, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-2gb-90gb-intel", vcpus: 2, memoryMiB: 2048, diskGiB: 90, monthly: 24, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-2gb-amd", vcpus: 2, memoryMiB: 2048, diskGiB: 60, monthly: 21, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-2gb-intel", vcpus: 2, memoryMiB: 2048, diskGiB: 60, monthly: 21, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-4gb", vcpus: 2, memoryMiB: 4096, diskGiB: 80, monthly: 24, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-4gb-120gb-intel", vcpus: 2, memoryMiB: 4096, diskGiB: 120, monthly: 32, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-4gb-amd", vcpus: 2, memoryMiB: 4096, diskGiB: 80, monthly: 28, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-4gb-intel", vcpus: 2, memoryMiB: 4096, diskGiB: 80, monthly: 28, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-8gb-160gb-intel", vcpus: 2, memoryMiB: 8192, diskGiB: 160, monthly: 48, gpus: 0, gpuModel: nil),
        Size("s-2vcpu-8gb-amd", vcpus: 2, memoryMiB: 8192, diskGiB: 100, monthly: 42, gpus: 0, gpuModel: nil),
        Size("s-4vcpu-16gb-320gb-intel", vcpus: 4, memoryMiB: 16384, diskGiB: 320, monthly: 96, gpus: 0, gpuModel: nil),
        Size("s-4vcpu-16gb-amd", vcpus: 4, memoryMiB: 16384, diskGiB: 200, monthly: 84, gpus: 0, gpuModel: nil),
        Size("s-4vcpu-8gb", vcpus: 4, memoryMiB: 8192, diskGiB: 160, monthly: 48, gpus: 0, gpuModel: nil),
        Size("s-4vcpu-8gb-240gb-intel", vcpus: 4, memoryMiB: 8192, diskGiB: 240, monthly: 64, gpus: 0, gpuModel: nil),
        Size("s-4vcpu-8gb-amd", vcpus: 4, memoryMiB: 8192, diskGiB: 160, monthly: 56, gpus: 0, gpuModel: nil),
        Size("s-4vcpu-8gb-intel", vcpus: 4, memoryMiB: 8192, diskGiB: 160, monthly: 56, gpus: 0, gpuModel: nil),
        Size("s-8vcpu-16gb", vcpus: 8, memoryMiB: 16384, diskGiB: 320, monthly: 96, gpus: 0, gpuModel: nil),
        Size("s-8vcpu-16gb-480gb-intel", vcpus: 8, memoryMiB: 16384, diskGiB: 480, monthly: 128, gpus: 0, gpuModel: nil),
        Size("s-8vcpu-16gb-amd", vcpus: 8, memoryMiB: 16384, diskGiB: 320, monthly: 112, gpus: 0, gpuModel: nil),
        Size("s-8vcpu-16gb-intel", vcpus: 8, memoryMiB: 16384, diskGiB: 320, monthly: 112, gpus: 0, gpuModel: nil),
        Size("s-8vcpu-32gb-640gb-intel", vcpus: 8, memoryMiB: 32768, diskGiB: 640, monthly: 192, gpus: 0, gpuModel: nil),
        Size("s-8vcpu-32gb-amd", vcpus: 8, memoryMiB: 32768, diskGiB: 400, monthly: 168, gpus: 0, gpuModel: nil),
        Size("so-16vcpu-128gb", vcpus: 16, memoryMiB: 131072, diskGiB: 2400, monthly: 1048, gpus: 0, gpuModel: nil),
        Size("so-16vcpu-128gb-intel", vcpus: 16, memoryMiB: 131072, diskGiB: 2400, monthly: 1048, gpus: 0, gpuModel: nil),
        Size("so-24vcpu-192gb", vcpus: 24, memoryMiB: 196608, diskGiB: 3600, monthly: 1572, gpus: 0, gpuModel: nil),
        Size("so-24vcpu-192gb-intel", vcpus: 24, memoryMiB: 196608, diskGiB: 3600, monthly: 1572, gpus: 0, gpuModel: nil),
        Size("so-2vcpu-16gb", vcpus: 2, memoryMiB: 16384, diskGiB: 300, monthly: 131, gpus: 0, gpuModel: nil),
        Size("so-2vcpu-16gb-intel", vcpus: 2, memoryMiB: 16384, diskGiB: 300, monthly: 131, gpus: 0, gpuModel: nil),
        Size("so-32vcpu-256gb", vcpus: 32, memoryMiB: 262144, diskGiB: 4800, monthly: 2096, gpus: 0, gpuModel: nil),
        Size("so-32vcpu-256gb-intel", vcpus: 32, memoryMiB: 262144, diskGiB: 4800, monthly: 2096, gpus: 0, gpuModel: nil),
        Size("so-48vcpu-384gb-intel", vcpus: 48, memoryMiB: 393216, diskGiB: 7000, monthly: 3144, gpus: 0, gpuModel: nil),
        Size("so-4vcpu-32gb", vcpus: 4, memoryMiB: 32768, diskGiB: 600, monthly: 262, gpus: 0, gpuModel: nil),
        Size("so-4vcpu-32gb-intel", vcpus: 4, memoryMiB: 32768, diskGiB: 600, monthly: 262, gpus: 0, gpuModel: nil),
        Size("so-8vcpu-64gb", vcpus: 8, memoryMiB: 65536, diskGiB: 1200, monthly: 524, gpus: 0, gpuModel: nil),
        Size("so-8vcpu-64gb-intel", vcpus: 8, memoryMiB: 65536, diskGiB: 1200, monthly: 524, gpus: 0, gpuModel: nil),
        Size("so1_5-16vcpu-128gb", vcpus: 16, memoryMiB: 131072, diskGiB: 3600, monthly: 1304, gpus: 0, gpuModel: nil),
        Size("so1_5-16vcpu-128gb-intel", vcpus: 16, memoryMiB: 131072, diskGiB: 3600, monthly: 1112, gpus: 0, gpuModel: nil),
        Size("so1_5-24vcpu-192gb", vcpus: 24, memoryMiB: 196608, diskGiB: 5400, monthly: 1956, gpus: 0, gpuModel: nil),
        Size("so1_5-24vcpu-192gb-intel", vcpus: 24, memoryMiB: 196608, diskGiB: 5400, monthly: 1668, gpus: 0, gpuModel: nil),
        Size("so1_5-2vcpu-16gb", vcpus: 2, memoryMiB: 16384, diskGiB: 450, monthly: 163, gpus: 0, gpuModel: nil),
        Size("so1_5-2vcpu-16gb-intel", vcpus: 2, memoryMiB: 16384, diskGiB: 450, monthly: 139, gpus: 0, gpuModel: nil),
        Size("so1_5-32vcpu-256gb", vcpus: 32, memoryMiB: 262144, diskGiB: 7200, monthly: 2608, gpus: 0, gpuModel: nil),
        Size("so1_5-32vcpu-256gb-intel", vcpus: 32, memoryMiB: 262144, diskGiB: 7200, monthly: 2224, gpus: 0, gpuModel: nil),
        Size("so1_5-4vcpu-32gb", vcpus: 4, memoryMiB: 32768, diskGiB: 900, monthly: 326, gpus: 0, gpuModel: nil),
        Size("so1_5-4vcpu-32gb-intel", vcpus: 4, memoryMiB: 32768, diskGiB: 900, monthly: 278, gpus: 0, gpuModel: nil),
        Size("so1_5-8vcpu-64gb", vcpus: 8, memoryMiB: 65536, diskGiB: 1800, monthly: 652, gpus: 0, gpuModel: nil),
        Size("so1_5-8vcpu-64gb-intel", vcpus: 8, memoryMiB: 65536, diskGiB: 1800, monthly: 556, gpus: 0, gpuModel: nil),
    ]
}
