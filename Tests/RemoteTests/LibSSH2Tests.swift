import Remote
import Testing

@Suite("libssh2 from Debian is linked")
struct LibSSH2Tests {
    @Test("the linked libssh2 reports the version of the headers it was built with")
    func runtimeVersionMatchesHeaders() throws {
        let runtime = try #require(LibSSH2.runtimeVersion)
        #expect(runtime == LibSSH2.headerVersion)
        #expect(runtime.split(separator: ".").count == 3)
    }
}
