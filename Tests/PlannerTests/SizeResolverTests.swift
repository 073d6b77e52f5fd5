@testable import Planner
import Spec
import Testing

@Suite("Size resolution against a catalog")
struct SizeResolverTests {
    @Test("a neutral size picks the cheapest offering that satisfies it in the region")
    func testSize_cheapestThatFits() throws {
        let small = try SizeResolver.resolve(.neutral(cpu: 2, memory: .gibibytes(4), disk: nil, gpu: 0), region: "nyc3", in: testCatalog).get()
        #expect(small.offering.slug == "small")
        let large = try SizeResolver.resolve(.neutral(cpu: 3, memory: .gibibytes(4), disk: nil, gpu: 0), region: "nyc3", in: testCatalog).get()
        #expect(large.offering.slug == "large")
        #expect(large.reason == "cheapest in nyc3 with at least 3 vCPU, 4GiB")
        let disk = try SizeResolver.resolve(.neutral(cpu: 1, memory: .gibibytes(1), disk: .gibibytes(100), gpu: 0), region: "nyc3", in: testCatalog).get()
        #expect(disk.offering.slug == "large")
    }

    @Test("ties on price go to the smaller size, then the slug, whatever the catalog order")
    func testSize_tiesAreDeterministic() throws {
        var catalog = testCatalog
        catalog.sizes = [
            SizeOffering(slug: "b-same", cpu: 4, memory: .gibibytes(8), disk: .gibibytes(50), monthlyPrice: 40, regions: ["nyc3"]),
            SizeOffering(slug: "a-same", cpu: 4, memory: .gibibytes(8), disk: .gibibytes(50), monthlyPrice: 40, regions: ["nyc3"]),
            SizeOffering(slug: "big-same-price", cpu: 8, memory: .gibibytes(8), disk: .gibibytes(50), monthlyPrice: 40, regions: ["nyc3"]),
        ]
        for order in [catalog.sizes, catalog.sizes.reversed()] {
            catalog.sizes = order
            #expect(try SizeResolver.resolve(.neutral(cpu: 2, memory: .gibibytes(2), disk: nil, gpu: 0), region: "nyc3", in: catalog).get().offering.slug == "a-same")
        }
    }

    @Test("a GPU size only where it is offered; the error names where it is")
    func testSize_gpuRegion() throws {
        #expect(try SizeResolver.resolve(.neutral(cpu: 4, memory: .gibibytes(16), disk: nil, gpu: 1), region: "nyc3", in: testCatalog).get().offering.slug == "gpu")
        guard case .failure(let problem) = SizeResolver.resolve(.neutral(cpu: 4, memory: .gibibytes(16), disk: nil, gpu: 1), region: "ams3", in: testCatalog) else {
            Issue.record("a GPU size was found in ams3")
            return
        }
        #expect(problem.message == "no size in region ams3 has at least 4 vCPU, 16GiB, 1 GPU")
        #expect(problem.fix == "gpu has it in nyc3; change the region, or lower the size")
    }

    @Test("an impossible size names the largest there is; a slug must exist and be offered in the region")
    func testSize_impossibleAndSlugs() {
        guard case .failure(let tooBig) = SizeResolver.resolve(.neutral(cpu: 64, memory: .gibibytes(4), disk: nil, gpu: 0), region: "nyc3", in: testCatalog) else {
            Issue.record("64 vCPU fit")
            return
        }
        #expect(tooBig.message == "test has no size with at least 64 vCPU, 4GiB")
        #expect(tooBig.fix?.contains("the largest is") == true)
        guard case .failure(let typo) = SizeResolver.resolve(.slug("smal"), region: "nyc3", in: testCatalog) else { Issue.record("typo accepted"); return }
        #expect(typo.fix == "did you mean 'small'?")
        guard case .failure(let elsewhere) = SizeResolver.resolve(.slug("gpu"), region: "ams3", in: testCatalog) else { Issue.record("gpu in ams3"); return }
        #expect(elsewhere.message == "size 'gpu' is not offered in region ams3")
    }
}
