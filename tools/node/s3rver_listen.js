// Starts s3rver (a popular local S3 fake, the peer in the client tests and the HTTP bench) with
// the same start-up contract as fake-s3: bind 127.0.0.1 on the given port (0 = a free one), then
// print one line "listening on http://HOST:PORT" to stdout. s3rver accepts only its built-in
// credentials, access key S3RVER and secret S3RVER. Stops on SIGTERM or SIGINT.
//
// usage: node s3rver_listen.js [--port P] [--directory DIR]
'use strict';
const fs = require('fs');
const os = require('os');
const path = require('path');
const S3rver = require('s3rver');

function parse_arguments(argv) {
  const options = { port: 0, directory: null };
  for (let index = 0; index < argv.length; index += 1) {
    const flag = argv[index];
    const value = argv[index + 1];
    if (flag === '--port' && value !== undefined) {
      options.port = Number(value);
      index += 1;
    } else if (flag === '--directory' && value !== undefined) {
      options.directory = value;
      index += 1;
    } else {
      process.stderr.write(`s3rver_listen: unknown or incomplete flag ${flag}\n` +
                           'usage: node s3rver_listen.js [--port P] [--directory DIR]\n');
      process.exit(2);
    }
  }
  if (!Number.isInteger(options.port) || options.port < 0 || options.port > 65535) {
    process.stderr.write('s3rver_listen: --port needs an integer from 0 to 65535\n');
    process.exit(2);
  }
  return options;
}

async function main() {
  const options = parse_arguments(process.argv.slice(2));
  const made_directory = options.directory === null;
  const directory =
      made_directory ? fs.mkdtempSync(path.join(os.tmpdir(), 's3rver-')) : options.directory;
  const server = new S3rver({
    address: '127.0.0.1',
    port: options.port,
    silent: true,
    directory,
  });
  const address = await server.run();
  process.stdout.write(`listening on http://${address.address}:${address.port}\n`);
  const stop = async () => {
    await server.close();
    if (made_directory) fs.rmSync(directory, { recursive: true, force: true });
    process.exit(0);
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((error) => {
  process.stderr.write(`s3rver_listen: ${error.stack || error}\n`);
  process.exit(1);
});
