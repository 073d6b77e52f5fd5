// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "kryoform",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "kryoform", targets: ["kryoform"]),
        .executable(name: "kryoform-bench", targets: ["kryoform-bench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/onevcat/Rainbow.git", from: "4.2.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "4.5.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.3"),
        .package(url: "https://github.com/CoreOffice/XMLCoder.git", exact: "0.18.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        // TLS to the state database (postgres-nio takes an NIOSSLContext).
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
    ],
    targets: [
        // The spec: YAML loading, the typed model, located diagnostics, inventory and capacity.
        .target(name: "Spec", dependencies: [.product(name: "Yams", package: "Yams")]),
        // Resource graph, planner, state and the apply walk.
        .target(name: "Planner", dependencies: [
            "Spec", .product(name: "Crypto", package: "swift-crypto"), .product(name: "Logging", package: "swift-log"),
        ]),
        // HTTP transport, the cloud adapters, the sandbox and static providers, and the shared
        // state backends (postgres). No SSH here: node configuration is Remote's.
        .target(name: "Providers", dependencies: [
            "Spec", "Planner",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "Crypto", package: "swift-crypto"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // Connection failures (refused, unreachable) come as NIOPosix's errors.
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            // EC2's Query API answers in XML.
            .product(name: "XMLCoder", package: "XMLCoder"),
            // The postgres state backend.
            .product(name: "PostgresNIO", package: "postgres-nio"),
            .product(name: "NIOSSL", package: "swift-nio-ssl"),
        ]),
        // Test support: fake provider APIs over real HTTP on loopback, and the contract check of
        // every request and response against the providers' official API descriptions.
        .target(name: "ProviderFakes", dependencies: [
            "Spec", "Planner", "Providers",
            // The SigV4 verifier's hashes (the fake checks signatures with code of its own).
            .product(name: "Crypto", package: "swift-crypto"),
            // The kill-point proxy in front of moto_server forwards with it.
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            // The first boot of a node reads its #cloud-config user data with it.
            .product(name: "Yams", package: "Yams"),
        ]),
        // Test support: local programs run without Foundation's Process (which mistakes a daemon
        // closing inherited descriptors for its parent exiting), loopback sockets, and the real
        // test hosts of scripts/test-hosts.
        .target(name: "TestSupport", dependencies: [
            // The shipped stacks rewritten as busybox stand-ins (StandInStacks).
            .product(name: "Yams", package: "Yams"),
        ]),
        // libssh2 from Debian's libssh2-1-dev.
        .systemLibrary(
            name: "CLibSSH2",
            pkgConfig: "libssh2",
            providers: [.apt(["libssh2-1-dev"])]
        ),
        // SSH, node facts, Docker Swarm and stack deployment, and the node configurator: the
        // Planner's ResourceDriver for the swarm and stack resources.
        .target(name: "Remote", dependencies: [
            "Spec", "Planner", "CLibSSH2",
            .product(name: "Yams", package: "Yams"),
            .product(name: "Crypto", package: "swift-crypto"),
        ], swiftSettings: [
            // Swift 6.3.1 miscompiles this module at -O: values that async closures return through
            // boundedMap's task group (the node facts, whose String fields) come back as garbage,
            // and the release binary crashed configuring hosts (issue 13). ASan and TSan find no
            // invalid access and no race, and the same code at -Onone is correct, so the module
            // is built unoptimised until a compiler release fixes it. Its work is waiting on
            // sockets, not CPU; the release-binary suites in scripts/test catch a regression.
            .unsafeFlags(["-Onone"]),
        ]),
        // The command-line interface: parse, call, print; and the composition of providers,
        // configurator and state store for an environment (ProviderFactory, EngineSession).
        .executableTarget(
            name: "kryoform",
            dependencies: [
                "Spec", "Planner", "Providers", "Remote",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Rainbow", package: "Rainbow"),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // Benchmarks whose results go to docs/benchmarks.md.
        .executableTarget(name: "kryoform-bench", dependencies: ["Spec", "Planner", "Providers", "ProviderFakes", "Remote", "TestSupport"]),
        .testTarget(name: "SpecTests", dependencies: ["Spec"], exclude: ["Corpus"]),
        .testTarget(name: "RemoteTests", dependencies: ["Remote", "Spec", "TestSupport", .product(name: "Yams", package: "Yams")]),
        .testTarget(name: "PlannerTests", dependencies: ["Planner", "Spec"]),
        .testTarget(name: "ProvidersTests", dependencies: ["Providers", "ProviderFakes", "Planner", "Spec", "TestSupport"]),
        .testTarget(name: "KryoformCLITests", dependencies: ["Spec", "Planner", "Providers", "ProviderFakes", "TestSupport"]),
    ]
)
