import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Every object an EC2-compatible test server (moto_server) holds, by kind, tagged or not: one
/// unfiltered `Describe…` per kind, counted in the raw XML, with nothing of the adapter's (its
/// listings are filtered by kryoform's tags, so they cannot see an untagged leak).
///
/// Kinds: live instances (not shutting down or terminated), non-default VPCs and subnets,
/// internet gateways, security groups other than the `default` ones, key pairs, and volumes not
/// being deleted; and what joins them: volumes attached to an instance, gateways attached to a
/// VPC, and security groups with at least one inbound rule. Compare with a count taken before
/// kryoform ran: the server's own defaults stay.
public enum EC2Inventory {
    static let queries: [(kind: String, action: String, pattern: String)] = [
        ("instances", "DescribeInstances", #"<instanceState>\s*<code>[0-9]+</code>\s*<name>(pending|running|stopping|stopped)</name>"#),
        ("vpcs", "DescribeVpcs", "<isDefault>false</isDefault>"),
        ("subnets", "DescribeSubnets", "<defaultForAz>false</defaultForAz>"),
        ("gateways", "DescribeInternetGateways", "<internetGatewayId>"),
        ("groups", "DescribeSecurityGroups", "<groupName>(?!default<)[^<]+</groupName>"),
        ("keys", "DescribeKeyPairs", "<keyName>"),
        ("volumes", "DescribeVolumes", "<status>(creating|available|in-use)</status>"),
        ("attached volumes", "DescribeVolumes", #"<attachmentSet>\s*<item>"#),
        ("attached gateways", "DescribeInternetGateways", #"<attachmentSet>\s*<item>"#),
        ("groups with ingress", "DescribeSecurityGroups", #"<ipPermissions>\s*<item>"#),
    ]

    /// How many objects of each kind `endpoint` holds in `region` for `accessKeyID`'s account.
    public static func count(at endpoint: URL, accessKeyID: String, region: String = "us-east-1") async throws -> [String: Int] {
        var counts: [String: Int] = [:]
        for query in queries {
            let xml = try await describe(query.action, at: endpoint, accessKeyID: accessKeyID, region: region)
            counts[query.kind] = try Regex(query.pattern).matches(in: xml)
        }
        return counts
    }

    /// One unsigned-in-effect request: moto reads the account and region from the credential
    /// scope and checks no signature.
    static func describe(_ action: String, at endpoint: URL, accessKeyID: String, region: String) async throws -> String {
        var request = HTTPClientRequest(url: endpoint.absoluteString + "/")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded; charset=utf-8")
        request.headers.add(name: "Authorization", value: "AWS4-HMAC-SHA256 Credential=\(accessKeyID)/20260101/\(region)/ec2/aws4_request, SignedHeaders=host, Signature=0")
        request.body = .bytes(ByteBuffer(string: "Action=\(action)&Version=2016-11-15"))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        return String(buffer: body)
    }
}

extension Regex<AnyRegexOutput> {
    func matches(in text: String) -> Int { text.matches(of: self).count }
}
