import Foundation
import Planner

/// What the HTTP cloud adapters (DigitalOcean, Vultr, EC2) share: failures explained in the
/// provider's words, creates whose outcome is unknown looked up rather than sent again, and the
/// pauses between polls.
protocol HTTPCloudAdapter: Sendable {
    /// The provider's name at the start of its messages (`digitalocean`).
    static var providerName: String { get }
    /// The longest pause between polls.
    var pollCeiling: Double { get }
    /// A refusal or transport failure, in words that say what to do.
    static func explain(_ failure: HTTPFailure, doing: String?) -> ProviderError
    /// Whether a failed request may still have taken effect.
    static func outcomeUnknown(_ failure: HTTPFailure) -> Bool
}

extension HTTPCloudAdapter {
    /// A 5xx, a timeout or a dropped connection: the request may have been carried out.
    static func outcomeUnknown(_ failure: HTTPFailure) -> Bool {
        guard let status = failure.status else { return true }
        return status >= 500
    }

    static func providerError(_ error: Error, doing: String? = nil) -> ProviderError {
        if let error = error as? ProviderError { return error }
        guard let failure = error as? HTTPFailure else {
            return ProviderError(.failed, "\(providerName): \(doing.map { "\($0): " } ?? "")\(error)")
        }
        return explain(failure, doing: doing)
    }

    /// Runs `body`, turning transport failures into messages that say what to do.
    func explaining<T>(_ doing: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch {
            throw Self.providerError(error, doing: doing)
        }
    }

    /// Sends a create; when its outcome is unknown, looks the resource up before reporting a
    /// failure. Whatever happens then, the create is not sent blindly again: the next run finds
    /// what exists by its tags and names.
    func createOrFind<T: Sendable>(_ request: ResourceRequest, create: () async throws -> T, find: () async throws -> T?) async throws -> T {
        do {
            return try await create()
        } catch let failure as HTTPFailure where Self.outcomeUnknown(failure) {
            do {
                if let found = try await find() { return found }
            } catch {
                throw Self.providerError(error, doing: "looking up \(request.address) after its create failed").afterSomethingMayHaveHappened
            }
            throw Self.providerError(failure, doing: "creating \(request.address)").afterSomethingMayHaveHappened
        }
    }

    /// Pauses between polls: a quarter second, growing by half each time up to `pollCeiling`.
    func pauses() -> some IteratorProtocol<Double> {
        var next = min(0.25, pollCeiling)
        let ceiling = pollCeiling
        return AnyIterator {
            defer { next = min(ceiling, next * 1.5) }
            return next
        }
    }

    /// What a create or update returns: the request's attributes (those the provider does not
    /// keep, such as roles, come from the spec) with the provider's id.
    func observed(_ request: ResourceRequest, id: String) -> ObservedResource {
        ObservedResource(address: request.address, kind: request.kind, providerID: id, status: .ready, attributes: request.attributes)
    }
}
