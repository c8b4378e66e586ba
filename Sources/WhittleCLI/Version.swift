/// The version `whittle --version` prints and run folders record.
enum WhittleVersion {
    static let string = "0.1.0-dev"
}
