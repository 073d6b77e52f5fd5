import Foundation
import Spec

/// What a provider offers: node sizes with monthly prices, regions, images, block storage.
public struct Catalog: Hashable, Sendable, Codable {
    public var provider: String
    public var currency: String
    public var regions: [CatalogRegion]
    public var sizes: [SizeOffering]
    /// The image new nodes get when the environment names none.
    public var defaultImage: String
    public var images: [String]
    /// Block storage, per GiB per month.
    public var volumePricePerGiB: Double
    /// The region used when the environment names none.
    public var defaultRegion: String
    /// Set where a node's disk is a block volume bought by size (EC2's EBS root volume): the
    /// sizes then have no disk of their own, the node gets the disk its cluster asks for, and
    /// the node's price adds that many GiB at this price per month.
    public var nodeDiskPricePerGiB: Double?

    public init(provider: String, currency: String = "USD", regions: [CatalogRegion], sizes: [SizeOffering], defaultImage: String, images: [String], volumePricePerGiB: Double, defaultRegion: String,
                nodeDiskPricePerGiB: Double? = nil) {
        self.provider = provider
        self.currency = currency
        self.regions = regions
        self.sizes = sizes
        self.defaultImage = defaultImage
        self.images = images
        self.volumePricePerGiB = volumePricePerGiB
        self.defaultRegion = defaultRegion
        self.nodeDiskPricePerGiB = nodeDiskPricePerGiB
    }

    /// The root disk a node gets where disks are bought by size: the cluster's `disk`, or this.
    public static let defaultNodeDiskGiB = 20

    /// What one node of `offering` costs a month, with its disk where disks are bought by size.
    public func nodePrice(_ offering: SizeOffering, diskGiB: Int?) -> Double {
        guard let perGiB = nodeDiskPricePerGiB else { return offering.monthlyPrice }
        return offering.monthlyPrice + Double(diskGiB ?? Self.defaultNodeDiskGiB) * perGiB
    }

    /// The disk a node of a cluster asking for `disk` gets, where disks are bought by size.
    public func nodeDiskGiB(for disk: ByteSize?) -> Int? {
        guard nodeDiskPricePerGiB != nil else { return nil }
        return disk.map { Int($0.gibibytes.rounded(.up)) } ?? Self.defaultNodeDiskGiB
    }

    public func size(_ slug: String) -> SizeOffering? {
        sizes.first { $0.slug == slug }
    }

    public func region(_ slug: String) -> CatalogRegion? {
        regions.first { $0.slug == slug }
    }

    /// The monthly price of a resource with these attributes, or nil when it costs nothing on its own.
    public func monthlyPrice(kind: ResourceKind, attributes: Attributes) -> Double? {
        switch kind {
        case .node:
            guard let offering = attributes["size"].flatMap(size) else { return nil }
            return nodePrice(offering, diskGiB: attributes["disk_gib"].flatMap(Int.init))
        case .volume: return attributes["size_gib"].flatMap(Double.init).map { $0 * volumePricePerGiB }
        default: return nil
        }
    }
}

public struct CatalogRegion: Hashable, Sendable, Codable {
    public var slug: String
    public var name: String
    public var available: Bool

    public init(slug: String, name: String, available: Bool = true) {
        self.slug = slug
        self.name = name
        self.available = available
    }
}

/// One node size a provider sells.
public struct SizeOffering: Hashable, Sendable, Codable {
    public var slug: String
    public var cpu: Int
    public var memory: ByteSize
    public var disk: ByteSize
    public var gpu: Int
    public var gpuModel: String?
    public var monthlyPrice: Double
    /// The regions that offer it.
    public var regions: [String]

    public init(slug: String, cpu: Int, memory: ByteSize, disk: ByteSize, gpu: Int = 0, gpuModel: String? = nil, monthlyPrice: Double, regions: [String]) {
        self.slug = slug
        self.cpu = cpu
        self.memory = memory
        self.disk = disk
        self.gpu = gpu
        self.gpuModel = gpuModel
        self.monthlyPrice = monthlyPrice
        self.regions = regions
    }

    /// "16 vCPU, 32 GiB, 200 GiB disk, 1 GPU (H100)".
    public var summary: String {
        // A size with no disk of its own (EC2) boots from a volume bought apart.
        var text = "\(cpu) vCPU, \(memory)" + (disk.bytes > 0 ? ", \(disk) disk" : ", no local disk")
        if gpu > 0 { text += ", \(gpu) GPU" + (gpuModel.map { " (\($0))" } ?? "") }
        return text
    }
}

/// Money as kryoform prints it: `$1,234.50`.
public enum Money {
    public static func format(_ amount: Double, currency: String = "USD") -> String {
        let cents = Int((amount * 100).rounded())
        let sign = cents < 0 ? "-" : ""
        let whole = abs(cents) / 100
        var digits = String(whole)
        var grouped = ""
        while digits.count > 3 {
            grouped = "," + digits.suffix(3) + grouped
            digits = String(digits.dropLast(3))
        }
        let symbol = currency == "USD" ? "$" : currency + " "
        return sign + symbol + digits + grouped + "." + String(format: "%02d", abs(cents) % 100)
    }
}
