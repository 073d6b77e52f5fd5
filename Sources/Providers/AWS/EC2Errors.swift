import Foundation
import Planner

/// EC2's refusals, in words that say what to do. Never names a credential.
enum EC2Errors {
    static func explain(_ failure: HTTPFailure, doing: String?) -> ProviderError {
        let what = "aws: " + (doing.map { "\($0): " } ?? "")
        let code = failure.errorID ?? ""
        let said = [failure.errorID, failure.message].compactMap { $0 }.joined(separator: ": ")
        let request = failure.requestID.map { " (request id \($0))" } ?? ""
        let call = "EC2 \(failure.path.hasPrefix("/ ") ? String(failure.path.dropFirst(2)) : failure.path)"
        switch failure.reason {
        case .timeout:
            return ProviderError(.unavailable, "\(what)\(call) got no answer in time", fix: "check the network and health.aws.amazon.com, then run again")
        case .connection(let detail):
            return ProviderError(.unavailable, "\(what)\(call) could not reach the API (\(detail))",
                                 fix: "check the network, and provider.endpoint if the environment sets one")
        case .status(let status):
            let message = "\(what)\(call) answered \(status)\(said.isEmpty ? "" : " \(said)")\(request)"
            switch code {
            case "AuthFailure", "UnauthorizedOperation", "InvalidClientTokenId", "SignatureDoesNotMatch", "MissingAuthenticationToken",
                 "OptInRequired", "Blocked", "ExpiredToken", "RequestExpired":
                let fix = code == "UnauthorizedOperation"
                    ? "the credentials' IAM policy does not allow this action: allow ec2:* on the account (or the actions docs/aws.md lists)"
                    : code == "RequestExpired" ? "the machine's clock is off by more than five minutes: set it right (timedatectl) and run again"
                    : "AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or the environment's provider.access_key_id / secret_access_key, and session_token for temporary credentials) hold no valid key for this region"
                return ProviderError(.unauthorized, message, fix: fix, nothingWasDone: true)
            case _ where EC2Refusal.throttlingCodes.contains(code) || status == 429:
                return ProviderError(.throttled, message, fix: "EC2 is throttling the account's API requests: wait a minute, or lower --parallelism",
                                     retryAfter: failure.retryAfter, nothingWasDone: true)
            case _ where code.hasSuffix(".NotFound"):
                return ProviderError(.notFound, message, fix: "it was deleted outside kryoform: run kryoform plan to see what exists", nothingWasDone: true)
            case "IdempotentParameterMismatch":
                return ProviderError(.conflict, message, fix: "a create with this client token was sent before with other values: run kryoform plan again and apply the new plan",
                                     nothingWasDone: true)
            case "InstanceLimitExceeded", "VcpuLimitExceeded", "VolumeLimitExceeded", "MaxSpotInstanceCountExceeded", "VpcLimitExceeded",
                 "AddressLimitExceeded", "SecurityGroupLimitExceeded", "RulesPerSecurityGroupLimitExceeded", "InternetGatewayLimitExceeded":
                return ProviderError(.quota, message, fix: "an account limit of the region is reached: ask for more in the Service Quotas console, or plan fewer or smaller nodes",
                                     nothingWasDone: true)
            case "InsufficientInstanceCapacity", "InsufficientCapacity":
                return ProviderError(.unavailable, message, fix: "AWS has no capacity for this type in the zone now: try again later, or choose another size", nothingWasDone: true)
            case "Unsupported", "InvalidInstanceType", "UnsupportedOperation":
                return ProviderError(.invalidRequest, message, fix: "choose a size offered in the environment's region (kryoform capacity lists them)", nothingWasDone: true)
            case "DependencyViolation":
                return ProviderError(.conflict, message, fix: "something outside kryoform still uses it: remove that in the AWS console, then run again")
            case "IncorrectInstanceState", "IncorrectState":
                return ProviderError(.conflict, message, fix: "the instance is busy changing state: run again in a minute")
            default:
                if (400..<500).contains(status) { return ProviderError(.invalidRequest, message, nothingWasDone: true) }
                return ProviderError(.unavailable, message, fix: "EC2 is failing; run again later (health.aws.amazon.com)")
            }
        }
    }
}
