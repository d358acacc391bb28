import Foundation
import Testing
import TestSupport

@Suite("Invalid configuration fails at start with the key named, never a crash trace")
struct ConfigurationTests {
    private func run(_ arguments: [String], environment: [String: String] = [:]) async throws
        -> (status: Int32, errors: String)
    {
        var processEnvironment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ESTAFETA_") }
        for (key, value) in environment { processEnvironment[key] = value }
        let result = try await ChildProcess.start(
            BuiltProducts.executable("estafeta"), arguments, environment: processEnvironment
        ).finish(timeout: .seconds(30))
        return (result.status, result.errors)
    }

    private func withConfigFile(_ json: String, _ body: (String) async throws -> Void) async throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("estafeta-\(UUID().uuidString).json")
        try Data(json.utf8).write(to: path)
        defer { try? FileManager.default.removeItem(at: path) }
        try await body(path.path)
    }

    @Test("a port that is not a number, from a flag or from the environment")
    func notANumber() async throws {
        let fromFlag = try await self.run(["check-config", "--smtp-port", "abc"])
        #expect(fromFlag.status == 2)
        #expect(fromFlag.errors.contains("smtp.port"), "\(fromFlag.errors)")
        let fromEnvironment = try await self.run(["check-config"], environment: ["ESTAFETA_IMAP_PORT": "x143"])
        #expect(fromEnvironment.status == 2)
        #expect(fromEnvironment.errors.contains("imap.port"), "\(fromEnvironment.errors)")
    }

    @Test("out-of-range and unknown values")
    func outOfRange() async throws {
        let port = try await self.run(["check-config", "--pop3-port", "70000"])
        #expect(port.status == 2 && port.errors.contains("pop3.port"), "\(port.errors)")
        let format = try await self.run(["check-config", "--log-format", "xml"])
        #expect(format.status == 2 && format.errors.contains("log.format"), "\(format.errors)")
        let flag = try await self.run(["check-config", "--smtp-prot", "25"])
        #expect(flag.status == 2 && flag.errors.contains("--smtp-prot"), "\(flag.errors)")
        let stray = try await self.run(["check-config", "--smtp-port", "25", "imap"])
        #expect(stray.status == 2 && stray.errors.contains("imap: is not a setting"), "\(stray.errors)")
    }

    @Test("config file: misspelt key, wrong type, broken JSON, missing file")
    func configFile() async throws {
        try await self.withConfigFile(#"{"smtp": {"prot": 25}}"#) { path in
            let result = try await self.run(["check-config", "--config", path])
            #expect(result.status == 2 && result.errors.contains("smtp.prot"), "\(result.errors)")
        }
        try await self.withConfigFile(#"{"admin": {"port": "eighty"}}"#) { path in
            let result = try await self.run(["check-config", "--config", path])
            #expect(result.status == 2 && result.errors.contains("admin.port"), "\(result.errors)")
        }
        try await self.withConfigFile(#"{"smtp": "#) { path in
            let result = try await self.run(["check-config", "--config", path])
            #expect(result.status == 2 && result.errors.contains("not valid JSON"), "\(result.errors)")
        }
        let missing = try await self.run(["check-config", "--config", "/nonexistent/estafeta.json"])
        #expect(missing.status == 2 && missing.errors.contains("/nonexistent/estafeta.json"), "\(missing.errors)")
    }

    @Test("a valid file is read, the environment overrides it, and a flag overrides both")
    func precedence() async throws {
        try await self.withConfigFile(#"{"smtp": {"port": 3025}, "imap": {"port": 3143}, "pop3": {"port": 3110}}"#) {
            path in
            let result = try await ChildProcess.start(
                BuiltProducts.executable("estafeta"),
                ["check-config", "--config", path, "--imap-port", "5143"],
                environment: ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("ESTAFETA_") }.merging(
                    ["ESTAFETA_IMAP_PORT": "4143", "ESTAFETA_POP3_PORT": "4110"]) { $1 }
            ).finish(timeout: .seconds(30))
            #expect(result.status == 0, "\(result.errors)")
            #expect(result.output.contains("smtp.port = 3025"), "file value for smtp: \(result.output)")
            #expect(result.output.contains("pop3.port = 4110"), "environment beats file for pop3: \(result.output)")
            #expect(result.output.contains("imap.port = 5143"), "flag beats environment for imap: \(result.output)")
        }
    }

    @Test("the example configuration in deploy/ is valid")
    func exampleConfiguration() async throws {
        let example = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("deploy/estafeta.example.json")
        let result = try await self.run(["check-config", "--config", example.path])
        #expect(result.status == 0, "\(result.errors)")
    }
}
