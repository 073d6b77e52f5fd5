import Foundation
import Planner
import Spec
import Synchronization

/// AWS EC2 (Query API, SigV4) behind the engine's provider protocol.
///
/// How kryoform's resources map onto EC2 (docs/aws.md has the whole story):
/// - `network` is a VPC tagged with the environment (its `kf-cidr` tag records what the spec
///   asked for, `auto` included), with one subnet over its whole range, an internet gateway
///   attached, and a default route to it in the VPC's main route table; instances get public
///   addresses on launch.
/// - `firewall` is a security group in that VPC; every rule says in its description which
///   clause of the spec it comes from, so the spec's text reads back in order.
/// - `ssh_key` is the key pair `<project>-<env>`; a key pair already holding the same key
///   under another name is used as it is and never deleted.
/// - `node`s are instances, one per `RunInstances` (`MinCount=MaxCount=1`) with a
///   `ClientToken` from the plan's idempotency token, a gp3 root volume of the cluster's
///   `disk_gib`, and tags on both. Observation lists them by tag, up to 1,000 a page.
/// - `volume`s are gp3 EBS volumes made in the node's zone and attached at `/dev/sdf` onwards.
public struct EC2Provider: CloudProvider, HTTPCloudAdapter {
    static let providerName = "aws"
    var pollCeiling: Double { settings.pollInterval }

    static func explain(_ failure: HTTPFailure, doing: String?) -> ProviderError {
        EC2Errors.explain(failure, doing: doing)
    }

    public struct Settings: Sendable {
        /// The longest pause between polls; polls start at a quarter second and slow down to it.
        public var pollInterval: Double
        /// How long instances may take to run, stop, or a volume to become available.
        public var readyTimeout: Double
        /// How long a new instance may be missing from listings (EC2 is eventually consistent).
        public var listingLag: Double
        /// Instances per `DescribeInstances` page (EC2 allows 5 to 1,000).
        public var pageSize: Int
        /// How long deletes of a network or security group are tried again while instances terminate.
        public var dependencyTimeout: Double

        public init(pollInterval: Double = 2, readyTimeout: Double = 900, listingLag: Double = 30, pageSize: Int = 1_000, dependencyTimeout: Double = 600) {
            self.pollInterval = pollInterval
            self.readyTimeout = readyTimeout
            self.listingLag = listingLag
            self.pageSize = min(1_000, max(5, pageSize))
            self.dependencyTimeout = dependencyTimeout
        }
    }

    public static let defaultRegion = "us-east-1"
    public static let defaultImage = "debian-12"
    /// Debian's own AWS account, which publishes the official Debian AMIs.
    public static let debianOwner = "136693071363"

    public static func publicEndpoint(region: String) -> URL? { URL(string: "https://ec2.\(region).amazonaws.com") }

    let client: EC2Client
    public let region: String
    let settings: Settings
    let clock: TransportClock
    let publicKey: String?
    private let catalogCache = CatalogCache()
    let images = ImageCache()

    init(client: EC2Client, region: String, settings: Settings, clock: TransportClock, publicKey: String?) {
        self.client = client
        self.region = region
        self.settings = settings
        self.clock = clock
        self.publicKey = publicKey
    }

    /// The adapter over the full transport stack: SigV4 signing of every attempt, a client-side
    /// rate limit under EC2's request-token buckets, retries with backoff on throttling codes,
    /// 5xx and dropped connections, to `endpoint` (`https://ec2.<region>.amazonaws.com` when nil).
    public static func make(accessKeyID: String, secretAccessKey: String, sessionToken: String? = nil, region: String = defaultRegion,
                            endpoint: URL? = nil, publicKey: String? = nil, settings: Settings = Settings(),
                            clock: TransportClock = SystemClock(), random: RandomSource = .system, retry: RetryPolicy = .standard,
                            onRetry: @escaping @Sendable (RetryEvent) -> Void = { _ in }) -> EC2Provider {
        let base = endpoint ?? publicEndpoint(region: region) ?? URL(fileURLWithPath: "/")
        let signer = SigV4Signer(accessKeyID: accessKeyID, secretAccessKey: secretAccessKey, sessionToken: sessionToken, region: region, service: "ec2")
        // EC2 refills 20 tokens a second for reads and 5 for changes (bursts of 100 and 200);
        // kryoform stays under both: at most 20 requests in any second, 300 in any minute.
        let limiter = RateLimiter(windows: [.init(limit: 20, seconds: 1), .init(limit: 300, seconds: 60)], clock: clock)
        let http = AsyncHTTPTransport(baseURL: base, timeout: 60, userAgent: "kryoform (aws adapter)")
        let signing = SigV4SigningTransport(inner: http, signer: signer, endpoint: base, clock: clock)
        let stack = RetryingTransport(RateLimitedTransport(signing, limiter: limiter), policy: retry, clock: clock, random: random,
                                      onRetry: onRetry, isThrottled: EC2Refusal.isThrottling)
        return EC2Provider(client: EC2Client(transport: stack), region: region, settings: settings, clock: clock, publicKey: publicKey)
    }

    // MARK: Catalog

    public func catalog() async throws -> Catalog {
        if let cached = catalogCache.value { return cached }
        guard EC2Prices.hourly[region] != nil else {
            throw ProviderError(.invalidRequest, "aws: kryoform has no prices for region \(region), so it cannot size or price nodes there",
                                fix: "use one of \(EC2Prices.regions.map(\.slug).joined(separator: ", ")) (provider.region), or add the region's prices to Sources/Providers/AWS/EC2Prices.swift")
        }
        let types = try await explaining("reading the instance types of \(region)") { try await instanceTypes() }
        let catalog = Self.catalog(types: types, region: region)
        catalogCache.value = catalog
        return catalog
    }

    /// Every instance type of the priced families, page by page.
    func instanceTypes() async throws -> [EC2.InstanceTypeInfo] {
        var types: [EC2.InstanceTypeInfo] = []
        var token: String?
        repeat {
            var query = EC2Query("DescribeInstanceTypes", idempotent: true)
            query.filter("instance-type", EC2Prices.families.map { "\($0).*" })
            query["MaxResults"] = "100"
            query["NextToken"] = token
            let page = try await client.send(EC2.DescribeInstanceTypesResponse.self, query)
            types += page.instanceTypeSet?.items ?? []
            token = page.nextToken.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return types
    }

    static func catalog(types: [EC2.InstanceTypeInfo], region: String) -> Catalog {
        var offerings: [SizeOffering] = []
        for type in types {
            guard let price = EC2Prices.monthly(type.instanceType, region: region), let cpu = type.vCpuInfo?.defaultVCpus,
                  let memory = type.memoryInfo?.sizeInMiB else { continue }
            let gpus = type.gpuInfo?.gpus?.items ?? []
            let count = gpus.reduce(0) { $0 + ($1.count ?? 0) }
            let model = gpus.first.map { gpu -> String in
                let name = [gpu.manufacturer, gpu.name].compactMap { $0 }.joined(separator: " ")
                guard let mebibytes = gpu.memoryInfo?.sizeInMiB else { return name }
                return "\(name) \(Int((Double(mebibytes) / 1024).rounded())) GiB"
            }
            offerings.append(SizeOffering(slug: type.instanceType, cpu: cpu, memory: .mebibytes(memory), disk: .gibibytes(0), gpu: count,
                                          gpuModel: count > 0 ? model : nil, monthlyPrice: price, regions: [region]))
        }
        offerings.sort { ($0.monthlyPrice, $0.slug) < ($1.monthlyPrice, $1.slug) }
        let storage = EC2Prices.gp3PerGiBMonth[region] ?? 0.08
        return Catalog(provider: "aws", currency: "USD",
                       regions: EC2Prices.regions.map { CatalogRegion(slug: $0.slug, name: $0.name, available: true) },
                       sizes: offerings, defaultImage: defaultImage, images: [defaultImage],
                       volumePricePerGiB: storage, defaultRegion: defaultRegion, nodeDiskPricePerGiB: storage)
    }

    public func batchLimit(_ kind: ResourceKind) -> Int { 1 }

    // MARK: Observation

    public func observe(_ scope: ResourceScope) async throws -> [ObservedResource] {
        try await explaining("listing \(scope.project)/\(scope.environment)") {
            async let instances = instances(in: scope)
            async let vpcs = scoped(EC2.DescribeVpcsResponse.self, "DescribeVpcs", scope).vpcSet?.items ?? []
            async let subnets = scoped(EC2.DescribeSubnetsResponse.self, "DescribeSubnets", scope).subnetSet?.items ?? []
            async let gateways = scoped(EC2.DescribeInternetGatewaysResponse.self, "DescribeInternetGateways", scope).internetGatewaySet?.items ?? []
            async let groups = scoped(EC2.DescribeSecurityGroupsResponse.self, "DescribeSecurityGroups", scope).securityGroupInfo?.items ?? []
            async let keys = keyPairs()
            async let volumes = volumes(in: scope)
            let found = try await vpcs
            var tables: [EC2.RouteTable] = []
            if !found.isEmpty {
                var query = EC2Query("DescribeRouteTables", idempotent: true)
                query.filter("vpc-id", found.map(\.vpcId))
                tables = try await client.send(EC2.DescribeRouteTablesResponse.self, query).routeTableSet?.items ?? []
            }
            return EC2Observation(scope: scope, region: region, instances: try await instances, vpcs: found, subnets: try await subnets,
                                  gateways: try await gateways, routeTables: tables, groups: try await groups, keys: try await keys,
                                  volumes: try await volumes, publicKey: publicKey).resources
        }
    }

    /// A `Describe…` of the scope's objects, by the project and environment tags.
    func scoped<T: Decodable>(_ type: T.Type, _ action: String, _ scope: ResourceScope, extra: (inout EC2Query) -> Void = { _ in }) async throws -> T {
        var query = EC2Query(action, idempotent: true)
        query.scopeFilters(EC2Naming.scopeTags(scope))
        extra(&query)
        return try await client.send(type, query)
    }

    /// The scope's instances: one listing by tag, `pageSize` a page, following `NextToken`.
    func instances(in scope: ResourceScope) async throws -> [EC2.Instance] {
        var instances: [EC2.Instance] = []
        var token: String?
        repeat {
            let page = try await scoped(EC2.DescribeInstancesResponse.self, "DescribeInstances", scope) { query in
                query["MaxResults"] = String(settings.pageSize)
                query["NextToken"] = token
            }
            instances += page.instances
            token = page.nextToken.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return instances
    }

    func volumes(in scope: ResourceScope) async throws -> [EC2.Volume] {
        var volumes: [EC2.Volume] = []
        var token: String?
        repeat {
            let page = try await scoped(EC2.DescribeVolumesResponse.self, "DescribeVolumes", scope) { query in
                query["MaxResults"] = "500"
                query["NextToken"] = token
            }
            volumes += page.volumeSet?.items ?? []
            token = page.nextToken.flatMap { $0.isEmpty ? nil : $0 }
        } while token != nil
        return volumes
    }

    /// Every key pair of the region with its public key (a key imported by hand may be the project's).
    func keyPairs() async throws -> [EC2.KeyPair] {
        var query = EC2Query("DescribeKeyPairs", idempotent: true)
        query["IncludePublicKey"] = "true"
        return try await client.send(EC2.DescribeKeyPairsResponse.self, query).keySet?.items ?? []
    }

    /// One instance by id, or nil when EC2 says there is none (yet).
    func instance(_ id: String) async throws -> EC2.Instance? {
        var query = EC2Query("DescribeInstances", idempotent: true)
        query.list("InstanceId", [id])
        do {
            return try await client.send(EC2.DescribeInstancesResponse.self, query).instances.first
        } catch let failure as HTTPFailure where failure.isNotFound {
            return nil
        }
    }

    // MARK: Waiting

    public func waitUntilReady(_ resources: [ObservedResource], scope: ResourceScope) async throws -> [ObservedResource] {
        let nodes = resources.filter { $0.kind == .node && $0.status != .ready }
        guard !nodes.isEmpty else { return resources }
        let started = clock.now()
        var current = Dictionary(resources.map { ($0.providerID, $0) }, uniquingKeysWith: { first, _ in first })
        var started_: Set<String> = []
        var pauses = pauses()
        try await explaining("waiting for \(nodes.count) instance\(nodes.count == 1 ? "" : "s") to run") {
            while true {
                // One listing of the scope per poll, not one request per instance.
                var listed = Dictionary(try await instances(in: scope).map { ($0.instanceId, $0) }, uniquingKeysWith: { first, _ in first })
                let elapsed = clock.now().timeIntervalSince(started)
                if elapsed > settings.listingLag {
                    // Past the listing lag, an instance missing from the listing is asked for by id.
                    var gone: [String] = []
                    for node in nodes where listed[node.providerID] == nil {
                        if let found = try await instance(node.providerID) { listed[node.providerID] = found } else { gone.append(node.providerID) }
                    }
                    if !gone.isEmpty {
                        throw ProviderError(.notFound, "aws: instance\(gone.count == 1 ? "" : "s") \(gone.joined(separator: ", ")) disappeared while waiting for \(gone.count == 1 ? "it" : "them") to run",
                                            fix: "run kryoform plan to see what exists now")
                    }
                }
                var waiting: [String] = []
                for node in nodes {
                    guard let instance = listed[node.providerID] else { waiting.append(node.providerID); continue }
                    if ["terminated", "shutting-down"].contains(instance.state) {
                        throw ProviderError(.failed, "aws: instance \(node.providerID) (\(node.address)) is \(instance.state)",
                                            fix: "look at its state reason in the EC2 console; run apply again to make it anew")
                    }
                    if instance.state == "stopped" && !started_.contains(node.providerID) {
                        // Left stopped (a resize that was interrupted): start it.
                        started_.insert(node.providerID)
                        var query = EC2Query("StartInstances", idempotent: true)
                        query.list("InstanceId", [node.providerID])
                        try await client.sendIgnoringAnswer(query)
                    }
                    var resource = current[node.providerID] ?? node
                    resource.details = EC2Observation.details(of: instance)
                    resource.status = instance.state == "running" ? .ready : .pending
                    if let type = instance.instanceType { resource.attributes["size"] = type }
                    current[node.providerID] = resource
                    if resource.status != .ready { waiting.append(node.providerID) }
                }
                if waiting.isEmpty { return }
                guard elapsed < settings.readyTimeout else {
                    throw ProviderError(.unavailable, "aws: instances \(waiting.joined(separator: ", ")) were not running after \(Int(settings.readyTimeout)) s",
                                        fix: "look at them in the EC2 console; run apply again to go on")
                }
                try await clock.sleep(seconds: pauses.next() ?? settings.pollInterval)
            }
        }
        return resources.map { current[$0.providerID] ?? $0 }
    }

    // MARK: Helpers

    /// Whether a failed request may have taken effect: a 5xx, a timeout, a dropped connection.
    static func outcomeUnknown(_ failure: HTTPFailure) -> Bool {
        guard let status = failure.status else { return true }
        return status >= 500 && !(failure.errorID.map(EC2Refusal.throttlingCodes.contains) ?? false)
    }
}

/// AMI ids of image names (`debian-12`), resolved once per run.
final class ImageCache: Sendable {
    private let stored = Mutex<[String: EC2.Image]>([:])
    subscript(name: String) -> EC2.Image? {
        get { stored.withLock { $0[name] } }
        set { stored.withLock { $0[name] = newValue } }
    }
}
