import Foundation
import XMLCoder

/// EC2's XML answers, as far as kryoform reads them. Element names are the service model's
/// `locationName`s; lists are `<xSet><item>…</item></xSet>`. The namespace
/// (`http://ec2.amazonaws.com/doc/2016-11-15/`, with or without the trailing slash) is not part
/// of any element name, so both spellings decode alike.
enum EC2 {
    /// `<xSet><item/>…</xSet>`: empty when the element is empty or absent.
    struct Items<Element: Decodable & Sendable>: Decodable, Sendable {
        var items: [Element]

        init(_ items: [Element] = []) { self.items = items }

        enum CodingKeys: String, CodingKey { case item }

        init(from decoder: Decoder) throws {
            let container = try decoder.container(keyedBy: CodingKeys.self)
            items = try container.decodeIfPresent([Element].self, forKey: .item) ?? []
        }
    }

    struct Tag: Decodable, Sendable, Hashable {
        var key: String
        var value: String?
    }

    struct State: Decodable, Sendable {
        var name: String
    }

    struct GroupIdentifier: Decodable, Sendable {
        var groupId: String?
    }

    struct BlockDevice: Decodable, Sendable {
        struct EBS: Decodable, Sendable { var volumeId: String? }
        var deviceName: String?
        var ebs: EBS?
    }

    struct Placement: Decodable, Sendable {
        var availabilityZone: String?
    }

    struct Instance: Decodable, Sendable {
        var instanceId: String
        var instanceType: String?
        var imageId: String?
        var instanceState: State?
        var subnetId: String?
        var vpcId: String?
        var privateIpAddress: String?
        var ipAddress: String?
        var keyName: String?
        var clientToken: String?
        var rootDeviceName: String?
        var blockDeviceMapping: Items<BlockDevice>?
        var placement: Placement?
        var groupSet: Items<GroupIdentifier>?
        var tagSet: Items<Tag>?

        var tags: [EC2Tag] { (tagSet?.items ?? []).map { EC2Tag(key: $0.key, value: $0.value ?? "") } }
        var state: String { instanceState?.name ?? "unknown" }
        /// The id of the EBS volume on the root device.
        var rootVolumeID: String? {
            (blockDeviceMapping?.items ?? []).first { $0.deviceName == rootDeviceName }?.ebs?.volumeId
        }
    }

    struct Reservation: Decodable, Sendable {
        var instancesSet: Items<Instance>?
    }

    struct DescribeInstancesResponse: Decodable, Sendable {
        var reservationSet: Items<Reservation>?
        var nextToken: String?
        var instances: [Instance] { (reservationSet?.items ?? []).flatMap { $0.instancesSet?.items ?? [] } }
    }

    struct RunInstancesResponse: Decodable, Sendable {
        var instancesSet: Items<Instance>?
    }

    struct InstanceStateChange: Decodable, Sendable {
        var instanceId: String
        var currentState: State?
    }

    struct InstanceStateChanges: Decodable, Sendable {
        var instancesSet: Items<InstanceStateChange>?
    }

    struct VPC: Decodable, Sendable {
        var vpcId: String
        var cidrBlock: String?
        var state: String?
        var tagSet: Items<Tag>?
        var tags: [EC2Tag] { (tagSet?.items ?? []).map { EC2Tag(key: $0.key, value: $0.value ?? "") } }
    }

    struct CreateVpcResponse: Decodable, Sendable { var vpc: VPC }
    struct DescribeVpcsResponse: Decodable, Sendable { var vpcSet: Items<VPC>? }

    struct Subnet: Decodable, Sendable {
        var subnetId: String
        var vpcId: String?
        var cidrBlock: String?
        var availabilityZone: String?
        var tagSet: Items<Tag>?
    }

    struct CreateSubnetResponse: Decodable, Sendable { var subnet: Subnet }
    struct DescribeSubnetsResponse: Decodable, Sendable { var subnetSet: Items<Subnet>? }

    struct Attachment: Decodable, Sendable {
        var vpcId: String?
        var state: String?
    }

    struct InternetGateway: Decodable, Sendable {
        var internetGatewayId: String
        var attachmentSet: Items<Attachment>?
        var tagSet: Items<Tag>?
    }

    struct CreateInternetGatewayResponse: Decodable, Sendable { var internetGateway: InternetGateway }
    struct DescribeInternetGatewaysResponse: Decodable, Sendable { var internetGatewaySet: Items<InternetGateway>? }

    struct RouteTableAssociation: Decodable, Sendable {
        var main: Bool?
    }

    struct Route: Decodable, Sendable {
        var destinationCidrBlock: String?
        var gatewayId: String?
    }

    struct RouteTable: Decodable, Sendable {
        var routeTableId: String
        var vpcId: String?
        var associationSet: Items<RouteTableAssociation>?
        var routeSet: Items<Route>?
    }

    struct DescribeRouteTablesResponse: Decodable, Sendable { var routeTableSet: Items<RouteTable>? }

    struct IpRange: Decodable, Sendable {
        var cidrIp: String
        var description: String?
    }

    struct Ipv6Range: Decodable, Sendable {
        var cidrIpv6: String
        var description: String?
    }

    struct IpPermission: Decodable, Sendable {
        var ipProtocol: String
        var fromPort: Int?
        var toPort: Int?
        var ipRanges: Items<IpRange>?
        var ipv6Ranges: Items<Ipv6Range>?
    }

    struct SecurityGroup: Decodable, Sendable {
        var groupId: String
        var groupName: String?
        var vpcId: String?
        var ipPermissions: Items<IpPermission>?
        var tagSet: Items<Tag>?
        var tags: [EC2Tag] { (tagSet?.items ?? []).map { EC2Tag(key: $0.key, value: $0.value ?? "") } }
    }

    struct CreateSecurityGroupResponse: Decodable, Sendable { var groupId: String }
    struct DescribeSecurityGroupsResponse: Decodable, Sendable { var securityGroupInfo: Items<SecurityGroup>? }

    struct KeyPair: Decodable, Sendable {
        var keyName: String
        var keyPairId: String?
        var keyFingerprint: String?
        var publicKey: String?
        var tagSet: Items<Tag>?
    }

    struct ImportKeyPairResponse: Decodable, Sendable {
        var keyName: String
        var keyPairId: String?
        var keyFingerprint: String?
    }

    struct DescribeKeyPairsResponse: Decodable, Sendable { var keySet: Items<KeyPair>? }

    struct VolumeAttachment: Decodable, Sendable {
        var instanceId: String?
        var device: String?
        var status: String?
    }

    struct Volume: Decodable, Sendable {
        var volumeId: String
        var size: Int?
        var availabilityZone: String?
        var status: String?
        var volumeType: String?
        var attachmentSet: Items<VolumeAttachment>?
        var tagSet: Items<Tag>?
        var tags: [EC2Tag] { (tagSet?.items ?? []).map { EC2Tag(key: $0.key, value: $0.value ?? "") } }
        var attachments: [VolumeAttachment] { attachmentSet?.items ?? [] }
    }

    struct DescribeVolumesResponse: Decodable, Sendable {
        var volumeSet: Items<Volume>?
        var nextToken: String?
    }

    struct GPU: Decodable, Sendable {
        struct Memory: Decodable, Sendable { var sizeInMiB: Int? }
        var name: String?
        var manufacturer: String?
        var count: Int?
        var memoryInfo: Memory?
    }

    struct InstanceTypeInfo: Decodable, Sendable {
        struct VCPU: Decodable, Sendable { var defaultVCpus: Int }
        struct Memory: Decodable, Sendable { var sizeInMiB: Int64 }
        struct GPUs: Decodable, Sendable { var gpus: Items<GPU>? }
        var instanceType: String
        var vCpuInfo: VCPU?
        var memoryInfo: Memory?
        var gpuInfo: GPUs?
    }

    struct DescribeInstanceTypesResponse: Decodable, Sendable {
        var instanceTypeSet: Items<InstanceTypeInfo>?
        var nextToken: String?
    }

    struct Image: Decodable, Sendable {
        var imageId: String
        var name: String?
        var creationDate: String?
        var rootDeviceName: String?
        var imageOwnerId: String?
    }

    struct DescribeImagesResponse: Decodable, Sendable { var imagesSet: Items<Image>? }

    /// `<Response><Errors><Error><Code/><Message/></Error></Errors><RequestID/></Response>`.
    struct ErrorResponse: Decodable, Sendable {
        struct Failure: Decodable, Sendable {
            var code: String
            var message: String?
            enum CodingKeys: String, CodingKey { case code = "Code", message = "Message" }
        }
        struct FailureList: Decodable, Sendable {
            var failures: [Failure]?
            enum CodingKeys: String, CodingKey { case failures = "Error" }
        }
        var list: FailureList?
        var requestID: String?
        enum CodingKeys: String, CodingKey { case list = "Errors", requestID = "RequestID" }
        var errors: [Failure] { list?.failures ?? [] }
    }

    static func decoder() -> XMLDecoder {
        let decoder = XMLDecoder()
        decoder.shouldProcessNamespaces = false
        decoder.trimValueWhitespaces = true
        return decoder
    }

    static func decode<T: Decodable>(_ type: T.Type, from data: Data) throws -> T {
        try decoder().decode(type, from: data)
    }
}
