import Spec
import Testing

@Suite("Quantities, networks and references parse from their human forms")
struct QuantityTests {
    @Test(arguments: [("16GiB", Int64(16) << 30), ("512MiB", 512 << 20), ("1TiB", 1 << 40), ("1.5GiB", 3 << 29),
                      ("500GB", 500_000_000_000), ("4Gi", 4 << 30), ("64KiB", 64 << 10)])
    func byteSizes(_ text: String, bytes: Int64) throws {
        #expect(try ByteSize.parse(text).get() == ByteSize(bytes: bytes))
    }

    @Test("a byte size without a unit, with a unit in the wrong case, or negative is refused")
    func badByteSizes() {
        #expect(throws: ParseProblem.self) { try ByteSize.parse("512").get() }
        #expect(throws: ParseProblem.self) { try ByteSize.parse("16gib").get() }
        #expect(throws: ParseProblem.self) { try ByteSize.parse("-1GiB").get() }
        #expect(throws: ParseProblem.self) { try ByteSize.parse("lots").get() }
    }

    @Test("byte sizes print in the shortest exact form")
    func byteSizeDescriptions() {
        #expect(ByteSize.gibibytes(16).description == "16GiB")
        #expect(ByteSize.mebibytes(1536).description == "1.5GiB")
        #expect(ByteSize.mebibytes(256).description == "256MiB")
        #expect(ByteSize.tebibytes(1).description == "1TiB")
    }

    @Test("cpu reads whole, fractional and milli forms")
    func cpu() throws {
        #expect(try CPU.parse("2").get() == .cores(2))
        #expect(try CPU.parse("0.5").get() == CPU(millicores: 500))
        #expect(try CPU.parse("250m").get() == CPU(millicores: 250))
        #expect(throws: ParseProblem.self) { try CPU.parse("0.0001").get() }
        #expect(CPU(millicores: 12_250).description == "12.25")
    }

    @Test("intervals read s, m, h and ms, alone or combined")
    func intervals() throws {
        #expect(try Interval.parse("30s").get().milliseconds == 30_000)
        #expect(try Interval.parse("1h30m").get().milliseconds == 5_400_000)
        #expect(try Interval.parse("250ms").get().milliseconds == 250)
        #expect(throws: ParseProblem.self) { try Interval.parse("30").get() }
        #expect(Interval(milliseconds: 5_400_000).description == "1h30m")
    }

    @Test("CIDR ranges: IPv4 and IPv6, host bits refused, overlap and containment")
    func cidr() throws {
        let wide = try CIDR.parse("10.20.0.0/16").get()
        let inside = try CIDR.parse("10.20.128.0/17").get()
        let apart = try CIDR.parse("10.30.0.0/16").get()
        #expect(wide.overlaps(inside) && inside.overlaps(wide))
        #expect(!wide.overlaps(apart))
        #expect(wide.contains(inside) && !inside.contains(wide))
        #expect(try CIDR.parse("::/0").get().description == "::/0")
        #expect(try CIDR.parse("2001:db8::/32").get().description == "2001:db8::/32")
        #expect(try CIDR.parse("203.0.113.7").get().description == "203.0.113.7/32")
        #expect(throws: ParseProblem.self) { try CIDR.parse("10.20.1.0/16").get() }
        #expect(throws: ParseProblem.self) { try CIDR.parse("10.0.0.0/33").get() }
        #expect(throws: ParseProblem.self) { try CIDR.parse("01.2.3.4/8").get() }
        #expect(!(try CIDR.parse("::/0").get().overlaps(wide)))
    }

    @Test("secret references are env: or file:, never a literal")
    func secretReferences() throws {
        #expect(try SecretReference.parse("env:DIGITALOCEAN_TOKEN").get() == .environment("DIGITALOCEAN_TOKEN"))
        #expect(try SecretReference.parse("file:~/.ssh/id_ed25519").get() == .file("~/.ssh/id_ed25519"))
        #expect(throws: ParseProblem.self) { try SecretReference.parse("dop_v1_abcdef").get() }
        #expect(throws: ParseProblem.self) { try SecretReference.parse("env:has space").get() }
    }

    @Test("suggestions find near misses and ignore far ones")
    func suggestions() {
        #expect(Suggestion.closest(to: "replica", in: ["replicas", "resources"]) == "replicas")
        #expect(Suggestion.closest(to: "dta", in: ["data", "ai"]) == "data")
        #expect(Suggestion.closest(to: "rpelicas", in: ["replicas"]) == "replicas")
        #expect(Suggestion.closest(to: "banana", in: ["replicas", "resources"]) == nil)
    }
}
