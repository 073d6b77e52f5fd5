/// On-demand prices of EC2 instance types and of gp3 storage, for the catalog (the EC2 API
/// serves no prices).
///
/// Source: AWS's public on-demand price list (aws.amazon.com/ec2/pricing/on-demand and
/// aws.amazon.com/ebs/pricing), Linux, shared tenancy, USD per hour. **Transcribed by hand, not
/// fetched**, on 2026-11-21; the figures are approximate: São Paulo prices of the newer families
/// (m7i, c7i, r7i) follow AWS's usual ratio to the m6i/c6i/r6i prices where the list could not be
/// read. Check the price list before buying. A month is 730 hours.
///
/// Types with no price here are left out of the catalog: kryoform never chooses a size it
/// cannot price. Regions: us-east-1 (N. Virginia, the default) and sa-east-1 (São Paulo).
/// To add a region or a family, add its prices here (and say so in docs/aws.md).
enum EC2Prices {
    /// When the table was transcribed.
    static let transcribed = "2026-11-21"

    /// The regions with prices, and their names.
    static let regions: [(slug: String, name: String)] = [("us-east-1", "US East (N. Virginia)"), ("sa-east-1", "South America (São Paulo)")]

    /// The families priced: what the catalog asks DescribeInstanceTypes for (`t3.*`, ...).
    static let families = ["t3", "t3a", "m6i", "m6a", "m7i", "c6i", "c6a", "c7i", "r6i", "r7i", "g4dn", "g5"]

    static let hoursPerMonth = 730.0

    /// gp3 storage, USD per GiB-month (the root disk of every node and every volume).
    static let gp3PerGiBMonth: [String: Double] = ["us-east-1": 0.08, "sa-east-1": 0.152]

    /// Linux on-demand, USD per hour, by region and instance type.
    static let hourly: [String: [String: Double]] = [
        "us-east-1": [
            // t3
            "t3.nano": 0.0052, "t3.micro": 0.0104, "t3.small": 0.0208, "t3.medium": 0.0416, "t3.large": 0.0832, "t3.xlarge": 0.1664, "t3.2xlarge": 0.3328,
            // t3a
            "t3a.nano": 0.0047, "t3a.micro": 0.0094, "t3a.small": 0.0188, "t3a.medium": 0.0376, "t3a.large": 0.0752, "t3a.xlarge": 0.1504, "t3a.2xlarge": 0.3008,
            // m6i
            "m6i.large": 0.096, "m6i.xlarge": 0.192, "m6i.2xlarge": 0.384, "m6i.4xlarge": 0.768, "m6i.8xlarge": 1.536, "m6i.12xlarge": 2.304, "m6i.16xlarge": 3.072, "m6i.24xlarge": 4.608, "m6i.32xlarge": 6.144,
            // m6a
            "m6a.large": 0.0864, "m6a.xlarge": 0.1728, "m6a.2xlarge": 0.3456, "m6a.4xlarge": 0.6912, "m6a.8xlarge": 1.3824, "m6a.12xlarge": 2.0736, "m6a.16xlarge": 2.7648, "m6a.24xlarge": 4.1472, "m6a.32xlarge": 5.5296, "m6a.48xlarge": 8.2944,
            // m7i
            "m7i.large": 0.1008, "m7i.xlarge": 0.2016, "m7i.2xlarge": 0.4032, "m7i.4xlarge": 0.8064, "m7i.8xlarge": 1.6128, "m7i.12xlarge": 2.4192, "m7i.16xlarge": 3.2256, "m7i.24xlarge": 4.8384, "m7i.48xlarge": 9.6768,
            // c6i
            "c6i.large": 0.085, "c6i.xlarge": 0.17, "c6i.2xlarge": 0.34, "c6i.4xlarge": 0.68, "c6i.8xlarge": 1.36, "c6i.12xlarge": 2.04, "c6i.16xlarge": 2.72, "c6i.24xlarge": 4.08, "c6i.32xlarge": 5.44,
            // c6a
            "c6a.large": 0.0765, "c6a.xlarge": 0.153, "c6a.2xlarge": 0.306, "c6a.4xlarge": 0.612, "c6a.8xlarge": 1.224, "c6a.12xlarge": 1.836, "c6a.16xlarge": 2.448, "c6a.24xlarge": 3.672, "c6a.32xlarge": 4.896, "c6a.48xlarge": 7.344,
            // c7i
            "c7i.large": 0.08925, "c7i.xlarge": 0.1785, "c7i.2xlarge": 0.357, "c7i.4xlarge": 0.714, "c7i.8xlarge": 1.428, "c7i.12xlarge": 2.142, "c7i.16xlarge": 2.856, "c7i.24xlarge": 4.284, "c7i.48xlarge": 8.568,
            // r6i
            "r6i.large": 0.126, "r6i.xlarge": 0.252, "r6i.2xlarge": 0.504, "r6i.4xlarge": 1.008, "r6i.8xlarge": 2.016, "r6i.12xlarge": 3.024, "r6i.16xlarge": 4.032, "r6i.24xlarge": 6.048, "r6i.32xlarge": 8.064,
            // r7i
            "r7i.large": 0.1323, "r7i.xlarge": 0.2646, "r7i.2xlarge": 0.5292, "r7i.4xlarge": 1.0584, "r7i.8xlarge": 2.1168, "r7i.12xlarge": 3.1752, "r7i.16xlarge": 4.2336, "r7i.24xlarge": 6.3504, "r7i.48xlarge": 12.7008,
            // g4dn
            "g4dn.xlarge": 0.526, "g4dn.2xlarge": 0.752, "g4dn.4xlarge": 1.204, "g4dn.8xlarge": 2.176, "g4dn.12xlarge": 3.912, "g4dn.16xlarge": 4.352,
            // g5
            "g5.xlarge": 1.006, "g5.2xlarge": 1.212, "g5.4xlarge": 1.624, "g5.8xlarge": 2.448, "g5.12xlarge": 5.672, "g5.16xlarge": 4.096, "g5.24xlarge": 8.144, "g5.48xlarge": 16.288,
        ],
        "sa-east-1": [
            // t3
            "t3.nano": 0.0084, "t3.micro": 0.0168, "t3.small": 0.0336, "t3.medium": 0.0672, "t3.large": 0.1344, "t3.xlarge": 0.2688, "t3.2xlarge": 0.5376,
            // t3a
            "t3a.nano": 0.0076, "t3a.micro": 0.0151, "t3a.small": 0.0302, "t3a.medium": 0.0605, "t3a.large": 0.121, "t3a.xlarge": 0.2419, "t3a.2xlarge": 0.4838,
            // m6i
            "m6i.large": 0.152, "m6i.xlarge": 0.304, "m6i.2xlarge": 0.608, "m6i.4xlarge": 1.216, "m6i.8xlarge": 2.432, "m6i.12xlarge": 3.648, "m6i.16xlarge": 4.864, "m6i.24xlarge": 7.296, "m6i.32xlarge": 9.728,
            // m7i
            "m7i.large": 0.1596, "m7i.xlarge": 0.3192, "m7i.2xlarge": 0.6384, "m7i.4xlarge": 1.2768, "m7i.8xlarge": 2.5536, "m7i.12xlarge": 3.8304, "m7i.16xlarge": 5.1072, "m7i.24xlarge": 7.6608, "m7i.48xlarge": 15.3216,
            // c6i
            "c6i.large": 0.131, "c6i.xlarge": 0.262, "c6i.2xlarge": 0.524, "c6i.4xlarge": 1.048, "c6i.8xlarge": 2.096, "c6i.12xlarge": 3.144, "c6i.16xlarge": 4.192, "c6i.24xlarge": 6.288, "c6i.32xlarge": 8.384,
            // c7i
            "c7i.large": 0.13755, "c7i.xlarge": 0.2751, "c7i.2xlarge": 0.5502, "c7i.4xlarge": 1.1004, "c7i.8xlarge": 2.2008, "c7i.12xlarge": 3.3012, "c7i.16xlarge": 4.4016, "c7i.24xlarge": 6.6024, "c7i.48xlarge": 13.2048,
            // r6i
            "r6i.large": 0.21, "r6i.xlarge": 0.42, "r6i.2xlarge": 0.84, "r6i.4xlarge": 1.68, "r6i.8xlarge": 3.36, "r6i.12xlarge": 5.04, "r6i.16xlarge": 6.72, "r6i.24xlarge": 10.08, "r6i.32xlarge": 13.44,
            // r7i
            "r7i.large": 0.2205, "r7i.xlarge": 0.441, "r7i.2xlarge": 0.882, "r7i.4xlarge": 1.764, "r7i.8xlarge": 3.528, "r7i.12xlarge": 5.292, "r7i.16xlarge": 7.056, "r7i.24xlarge": 10.584, "r7i.48xlarge": 21.168,
            // g4dn
            "g4dn.xlarge": 0.894, "g4dn.2xlarge": 1.278, "g4dn.4xlarge": 2.047, "g4dn.8xlarge": 3.699, "g4dn.12xlarge": 6.65, "g4dn.16xlarge": 7.398,
        ],
    ]

    /// The monthly price of a type in a region, to the cent, or nil when the table has none.
    static func monthly(_ type: String, region: String) -> Double? {
        guard let hourly = hourly[region]?[type] else { return nil }
        return (hourly * hoursPerMonth * 100).rounded() / 100
    }
}
