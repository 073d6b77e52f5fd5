@testable import Remote
import Testing

@Suite("Reading how far a node's drain has gone")
struct DrainProgressTests {
    @Test("a task of the environment still running on the node, or a service short of its replicas, keeps the drain going")
    func notDoneWhileTasksRunOrServicesAreShort() {
        let running = DrainProgress.parse("web_web 2/2\napi_api 1/1\n\(DrainProgress.marker)\nweb_web.2 Running 3 seconds ago\nweb_web.2 Shutdown 1 minute ago\n")
        #expect(running == DrainProgress(onNode: ["web_web.2 Running"], short: []))
        let short = DrainProgress.parse("web_web 1/2\n\(DrainProgress.marker)\nweb_web.2 Shutdown 1 second ago\n")
        #expect(short == DrainProgress(onNode: [], short: ["web_web 1/2"]))
        #expect(!running.isDone && !short.isDone)
    }

    @Test("done once nothing of the environment runs on the node and every service has its tasks; other services' tasks do not count")
    func doneWhenMovedElsewhere() {
        let done = DrainProgress.parse("web_web 2/2\n\(DrainProgress.marker)\nweb_web.2 Shutdown 2 seconds ago\nother_other.1 Running 1 hour ago\n")
        #expect(done.isDone)
        #expect(DrainProgress.parse("\(DrainProgress.marker)\n").isDone, "no service, no task: nothing to wait for")
    }
}
