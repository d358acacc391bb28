import Foundation
import FuzzHarnesses

/// `estafeta-fuzz`: built with `-sanitize=fuzzer` (see `Tests/Fuzz/run.sh`) this is a libFuzzer binary
/// for the target named by `ESTAFETA_FUZZ_TARGET`; built normally, it replays files through a target:
/// `estafeta-fuzz TARGET FILE…`.
enum SelectedTarget {
    static let target: FuzzTarget = {
        guard let name = ProcessInfo.processInfo.environment["ESTAFETA_FUZZ_TARGET"], let target = FuzzTarget(rawValue: name) else {
            FileHandle.standardError.write(Data(
                "set ESTAFETA_FUZZ_TARGET to one of: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", "))\n".utf8))
            exit(2)
        }
        return target
    }()
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let bytes = data.map { Array(UnsafeBufferPointer(start: $0, count: size)) } ?? []
    SelectedTarget.target.run(bytes)
    return 0
}

#if !FUZZING
@main
struct Replay {
    static func main() throws {
        let arguments = CommandLine.arguments.dropFirst()
        guard let name = arguments.first, let target = FuzzTarget(rawValue: name) else {
            print("usage: estafeta-fuzz TARGET FILE… (targets: \(FuzzTarget.allCases.map(\.rawValue).joined(separator: ", ")))")
            exit(2)
        }
        for path in arguments.dropFirst() {
            target.run(Array(try Data(contentsOf: URL(fileURLWithPath: path))))
        }
    }
}
#endif
