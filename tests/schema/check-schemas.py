#!/usr/bin/python3
"""Checks that the JSON Schemas in schemas/ agree with ppn's C validator.

The manifests are read with a strict YAML loader that follows ppn's YAML rules
(docs/manifests.md), so that a file ppn refuses before it looks at any field is also
refused here. Then:

- every manifest of examples/fleet and of each case under tests/data/good/ is valid
  against the schema of its kind and against manifest.schema.json;
- for each case under tests/data/bad/, the Python side agrees with the case's `schema`
  word: `syntax` (the strict loader refuses the file), `reject` (the file loads and the
  schema of its kind refuses it) or `cross-file` (every file is valid on its own, and only
  the rules that span files catch the problem);
- when PPN_BIN_PPN names the ppn program, `ppn validate .` exits 1 and prints exactly the
  case's `expected` on each bad case, and exits 0 on the example and each good case.

Bad and good cases overlay examples/fleet: the case's files/ is copied over a copy of the
example, then every path listed in its optional `remove` file is deleted.

Run with Debian's /usr/bin/python3 (python3-jsonschema, python3-yaml).
"""

import json
import os
import pathlib
import re
import shutil
import subprocess
import tempfile
import unittest

import jsonschema
import yaml

HERE = pathlib.Path(__file__).resolve().parent
SOURCE_ROOT = pathlib.Path(os.environ.get('PPN_SOURCE_ROOT') or HERE.parent.parent)
TEST_DATA = pathlib.Path(os.environ.get('PPN_TEST_DATA') or SOURCE_ROOT / 'tests' / 'data')
SCHEMA_DIR = SOURCE_ROOT / 'schemas'
EXAMPLE_FLEET = SOURCE_ROOT / 'examples' / 'fleet'
PPN = os.environ.get('PPN_BIN_PPN') or None

MAX_FILE_SIZE = 1024 * 1024

# Which schema a manifest is checked against follows from where it is, as in ppn.
KIND_DIRS = {
    'nodes': 'node',
    'peers': 'peer',
    'images': 'image',
    'vms': 'vm',
    'placements': 'placement',
}
KIND_SCHEMAS = ['network', 'node', 'peer', 'image', 'vm', 'placement']

SCHEMA_WORDS = ('syntax', 'reject', 'cross-file')


# ---- The strict YAML loader ----


class Refused(Exception):
    """A file that ppn refuses before looking at its fields."""


class Yaml11Scalar:
    """A plain scalar that YAML 1.1 reads as something else than a string, in a form ppn
    does not accept: `yes`, `Null`, `042`, `0x2a`, `1_000`, `1:30`, `1.5`, `.inf`.

    ppn refuses such a value wherever it expects a string, a boolean or an integer (quoting
    makes it a string). It is neither a str nor any other JSON type, so every schema refuses
    it wherever it stands, as ppn does.
    """

    def __init__(self, text, reads_as):
        self.text = text
        self.reads_as = reads_as

    def __repr__(self):
        return f'plain {self.text!r} (YAML 1.1 reads {self.reads_as})'


# The plain scalars YAML 1.1 resolves to another type than a string (timestamps aside), as
# ppn's loader classifies them. Only the forms ppn accepts are resolved to JSON types.
YAML11_TYPES = [
    ('null', r'(?:~|null|Null|NULL)?'),
    ('a boolean', r'(?:yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE'
                  r'|on|On|ON|off|Off|OFF)'),
    ('an integer', r'(?:[-+]?0b[01_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+'
                   r'|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+)'),
    ('a number', r'(?:[-+]?[0-9][0-9_]*\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?'
                 r'|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)'
                 r'|\.(?:nan|NaN|NAN))'),
]
YAML11_TAG = 'tag:ppn.invalid,2026:yaml11'
YAML11_RE = re.compile('|'.join(f'(?P<t{i}>{pattern})' for i, (_, pattern) in
                                enumerate(YAML11_TYPES)))


class StrictLoader(yaml.SafeLoader):
    """PyYAML's safe loader, configured for ppn's rules.

    Plain scalars resolve as ppn reads them: `true` and `false` are booleans; `null`, `~`
    and the empty value are null; `0` and `[1-9][0-9]*` are integers; another form that
    YAML 1.1 reads as a boolean, null, integer or number is a Yaml11Scalar, which no schema
    accepts; everything else is a string. Quoted scalars are strings. Mapping keys are always
    strings. Anchors, aliases, tags, merge keys, duplicate keys and keys that are not scalars
    are refused.
    """

    yaml_implicit_resolvers = {}

    def compose_node(self, parent, index):
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent):
            raise Refused(_where(event.start_mark) + 'aliases are not allowed')
        if event.anchor is not None:
            raise Refused(_where(event.start_mark) + 'anchors are not allowed')
        if getattr(event, 'tag', None) is not None:
            raise Refused(_where(event.start_mark) + 'tags are not allowed')
        return super().compose_node(parent, index)

    def construct_mapping(self, node, deep=True):
        mapping = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise Refused(_where(key_node.start_mark) + 'a key must be a scalar')
            key = key_node.value
            if key == '<<' and key_node.style is None:
                raise Refused(_where(key_node.start_mark) + 'merge keys are not allowed')
            if key in mapping:
                raise Refused(_where(key_node.start_mark) + f'duplicate key {key!r}')
            mapping[key] = self.construct_object(value_node, deep=True)
        return mapping

    def construct_strict_map(self, node):
        return self.construct_mapping(node)

    def construct_strict_seq(self, node):
        return [self.construct_object(child, deep=True) for child in node.value]

    def construct_yaml11(self, node):
        match = YAML11_RE.fullmatch(node.value)
        reads_as = next(YAML11_TYPES[int(name[1:])][0]
                        for name, text in match.groupdict().items() if text is not None)
        return Yaml11Scalar(node.value, reads_as)


# Resolvers keyed by a first character are tried before the wildcard (None) ones, so the
# YAML 1.1 catch-all only sees what the strict forms left.
StrictLoader.add_implicit_resolver(
    'tag:yaml.org,2002:bool', re.compile(r'(?:true|false)\Z'), list('tf'))
StrictLoader.add_implicit_resolver(
    'tag:yaml.org,2002:null', re.compile(r'(?:~|null|)\Z'), ['~', 'n', ''])
StrictLoader.add_implicit_resolver(
    'tag:yaml.org,2002:int', re.compile(r'(?:0|[1-9][0-9]*)\Z'), list('0123456789'))
StrictLoader.add_implicit_resolver(YAML11_TAG, re.compile(f'(?:{YAML11_RE.pattern})\\Z'), None)
StrictLoader.add_constructor('tag:yaml.org,2002:map', StrictLoader.construct_strict_map)
StrictLoader.add_constructor('tag:yaml.org,2002:seq', StrictLoader.construct_strict_seq)
StrictLoader.add_constructor(YAML11_TAG, StrictLoader.construct_yaml11)


def _where(mark):
    return f'{mark.line + 1}:{mark.column + 1}: ' if mark else ''


def load_strict(data):
    """Returns the one document of data (bytes), or raises Refused."""
    if len(data) > MAX_FILE_SIZE:
        raise Refused(f'larger than {MAX_FILE_SIZE} bytes')
    try:
        text = data.decode('utf-8')
    except UnicodeDecodeError as err:
        raise Refused(f'not UTF-8: {err}') from None
    if text.startswith('\ufeff'):
        text = text[1:]
    for char, what in (('\0', 'a NUL byte'), ('\t', 'a tab')):
        if char in text:
            line = text.count('\n', 0, text.index(char)) + 1
            raise Refused(f'{line}: {what} is not allowed')

    try:
        # The reader refuses control characters as soon as it is made.
        loader = StrictLoader(text)
        try:
            return loader.get_single_data()
        finally:
            loader.dispose()
    except yaml.YAMLError as err:
        raise Refused(str(err).replace('\n', ' ')) from None


# ---- Schemas ----


def read_schema(name):
    with open(SCHEMA_DIR / f'{name}.schema.json', encoding='utf-8') as f:
        return json.load(f)


SCHEMAS = {name: read_schema(name) for name in KIND_SCHEMAS + ['manifest', 'plan']}
STORE = {schema['$id']: schema for schema in SCHEMAS.values()}
FORMAT_CHECKER = jsonschema.Draft202012Validator.FORMAT_CHECKER


def validator(name):
    schema = SCHEMAS[name]
    resolver = jsonschema.RefResolver.from_schema(schema, store=STORE)
    return jsonschema.Draft202012Validator(schema, resolver=resolver,
                                           format_checker=FORMAT_CHECKER)


VALIDATORS = {name: validator(name) for name in SCHEMAS}


def schema_errors(name, document):
    """The schema's complaints about document, one line each ([] when valid)."""
    errors = sorted(VALIDATORS[name].iter_errors(document), key=lambda e: list(e.path))
    return [f'{e.json_path}: {e.message}' for e in errors]


# ---- Fleets and cases ----


def schema_name(relpath):
    """The kind schema for a path inside a fleet repo, or None for a file ppn ignores
    or refuses for its place alone (a .yml file, a subdirectory)."""
    parts = pathlib.PurePosixPath(relpath).parts
    if parts == ('ppn.yaml',):
        return 'network'
    if len(parts) == 2 and parts[0] in KIND_DIRS and parts[1].endswith('.yaml'):
        return KIND_DIRS[parts[0]]
    return None


def manifest_paths(root):
    """Every path under root that ppn loads as a manifest, relative and sorted."""
    paths = []
    if (root / 'ppn.yaml').is_file():
        paths.append('ppn.yaml')
    for directory in KIND_DIRS:
        if (root / directory).is_dir():
            paths += [f'{directory}/{p.name}' for p in (root / directory).iterdir()
                      if p.is_file() and schema_name(f'{directory}/{p.name}')]
    return sorted(paths)


def make_overlay(case, destination):
    """examples/fleet, with the case's files/ copied over it and its `remove` list deleted."""
    shutil.copytree(EXAMPLE_FLEET, destination)
    if (case / 'files').is_dir():
        shutil.copytree(case / 'files', destination, dirs_exist_ok=True)
    remove = case / 'remove'
    if remove.is_file():
        for line in remove.read_text(encoding='utf-8').splitlines():
            line = line.strip()
            if not line or line.startswith('#'):
                continue
            target = destination / line
            if target.is_dir() and not target.is_symlink():
                shutil.rmtree(target)
            else:
                target.unlink()


EXPECTED_LINE = re.compile(r'^(?P<path>[^:]+?)(?::(?P<line>\d+):(?P<column>\d+))?: ')


def expected_paths(expected):
    """The fleet paths the lines of an `expected` file point at, in order, once each."""
    paths = []
    for line in expected.splitlines():
        match = EXPECTED_LINE.match(line)
        if not match:
            raise ValueError(f'not "path[:line:column]: message": {line!r}')
        path = match['path']
        if path.startswith('./'):
            path = path[2:]
        if path not in paths:
            paths.append(path)
    return paths


def check_manifest(relpath, data):
    """Loads one manifest strictly and checks it against its kind's schema and against
    manifest.schema.json. Returns the complaints (Refused raised for YAML)."""
    document = load_strict(data)
    kind = schema_name(relpath)
    errors = [f'{kind}.schema.json: {e}' for e in schema_errors(kind, document)]
    return errors + [f'manifest.schema.json: {e}' for e in schema_errors('manifest', document)]


def run_ppn_validate(directory):
    return subprocess.run([PPN, 'validate', '.'], cwd=directory, capture_output=True,
                          text=True, timeout=60)


def cases(kind):
    top = TEST_DATA / kind
    if not top.is_dir():
        return []
    return sorted(p for p in top.iterdir() if p.is_dir())


# ---- Tests of the loader itself ----


class StrictLoaderTest(unittest.TestCase):
    def load(self, text):
        return load_strict(text.encode('utf-8') if isinstance(text, str) else text)

    def assertRefused(self, text, what):
        with self.assertRaises(Refused, msg=what) as caught:
            self.load(text)
        return str(caught.exception)

    def test_refuses_duplicate_keys(self):
        self.assertRefused('a: 1\na: 2\n', 'duplicate key')
        self.assertRefused('a:\n  b: 1\n  b: 1\n', 'duplicate nested key')
        self.assertRefused('a: 1\n"a": 2\n', 'duplicate key, quoted')

    def test_refuses_anchors_aliases_tags_merge_keys(self):
        self.assertRefused('a: &x 1\n', 'anchor')
        self.assertRefused('a: &x 1\nb: *x\n', 'alias')
        self.assertRefused('a: !!str 1\n', 'standard tag')
        self.assertRefused('a: !local 1\n', 'local tag')
        self.assertRefused('a: ! 1\n', 'non-specific tag')
        self.assertRefused('--- !!map\na: 1\n', 'tag on the top mapping')
        self.assertRefused('a:\n  x: 1\nb:\n  <<: {x: 2}\n', 'merge key')

    def test_refuses_more_than_one_document(self):
        self.assertRefused('a: 1\n---\nb: 2\n', 'two documents')

    def test_refuses_tabs_nul_and_bad_encodings(self):
        self.assertRefused('a:\t1\n', 'tab after a key')
        self.assertRefused('a: |\n  x\ty\n', 'tab in a block scalar')
        self.assertRefused('# a\tcomment\na: 1\n', 'tab in a comment')
        self.assertRefused(b'a: \xff\n', 'invalid UTF-8')
        self.assertRefused(b'a: \xc3\n', 'truncated UTF-8')
        self.assertRefused(b'a: 1\x00\n', 'NUL byte')
        self.assertRefused('a: 1\n'.encode('utf-16'), 'UTF-16')

    def test_refuses_complex_keys(self):
        self.assertRefused('? [a, b]\n: 1\n', 'sequence as a key')

    def test_size_limit(self):
        filler = '#' * (MAX_FILE_SIZE - len('a: 1\n') - 1) + '\n'
        self.assertEqual(self.load('a: 1\n' + filler), {'a': 1})
        self.assertRefused('a: 1\n' + filler + '#', 'one byte over 1 MiB')

    def test_accepts_bom_and_crlf(self):
        self.assertEqual(self.load(b'\xef\xbb\xbfa: 1\r\nb: x\r\n'), {'a': 1, 'b': 'x'})

    def test_scalars(self):
        plain = {
            'true': True, 'false': False,
            'null': None, '~': None, '': None,
            '0': 0, '42': 42, '18446744073709551616': 18446744073709551616,
        }
        strings = ['y', 'n', 'nul', 'yes!', '089', '0o17', '1e3', '2024-01-01', '30s', '2GiB',
                   '10.77.0.1', 'fd77::/64', '203.0.113.10:51820', '=', '.', '1h30m', '0.5s']
        yaml11 = {
            'null': ['Null', 'NULL'],
            'a boolean': ['yes', 'Yes', 'YES', 'no', 'on', 'Off', 'True', 'FALSE'],
            'an integer': ['042', '00', '0x2a', '0b101', '1_000', '1:30', '+1', '-1', '-0'],
            'a number': ['1.5', '1.', '-1.5e+3', '.5', '.inf', '-.Inf', '.nan', '1:30.5'],
        }
        for text, value in plain.items():
            with self.subTest(text=text):
                loaded = self.load(f'a: {text}\n')['a']
                self.assertEqual(loaded, value)
                self.assertIs(type(loaded), type(value))
        for text in strings:
            with self.subTest(text=text):
                self.assertEqual(self.load(f'a: {text}\n')['a'], text)
        for reads_as, texts in yaml11.items():
            for text in texts:
                with self.subTest(text=text):
                    loaded = self.load(f'a: {text}\n')['a']
                    self.assertIsInstance(loaded, Yaml11Scalar)
                    self.assertEqual((loaded.text, loaded.reads_as), (text, reads_as))
        for text in ['true', '42', 'null', '', 'yes', '042', '1.5']:
            with self.subTest(quoted=text):
                self.assertEqual(self.load(f'a: "{text}"\nb: \'{text}\'\n'),
                                 {'a': text, 'b': text})
        for text in ['yes', '1.5']:
            with self.subTest(block=text):
                self.assertEqual(self.load(f'a: |-\n  {text}\n'), {'a': text})

    def test_yaml11_scalars_fit_no_schema_type(self):
        value = self.load('a: yes\n')['a']
        for schema in [{'type': 'string'}, {'type': 'boolean'}, {'type': 'integer'},
                       {'type': 'null'}, {'enum': ['yes']}, {'const': 'yes'}]:
            with self.subTest(schema=schema):
                self.assertFalse(jsonschema.Draft202012Validator(schema).is_valid(value))

    def test_keys_are_strings(self):
        self.assertEqual(self.load('1: a\ntrue: b\nnull: c\n'),
                         {'1': 'a', 'true': 'b', 'null': 'c'})

    def test_empty_file_is_null(self):
        self.assertIsNone(self.load(''))
        self.assertIsNone(self.load('# only a comment\n'))


# ---- Tests of the schemas on their own ----


MINIMAL = {
    'network': {'apiVersion': 'ppn/v1', 'kind': 'Network', 'name': 'n',
                'overlay': '10.77.0.0/24'},
    'node': {'apiVersion': 'ppn/v1', 'kind': 'Node', 'name': 'n', 'type': 'leased'},
    'peer': {'apiVersion': 'ppn/v1', 'kind': 'Peer', 'name': 'n',
             'publicKey': 'KBFUROvAOD5uARVfnk5h9EEjCq0hRT+bsLr5LhNqUGo=',
             'address': '10.77.0.2'},
    'image': {'apiVersion': 'ppn/v1', 'kind': 'Image', 'name': 'n',
              'source': '/srv/images/base.qcow2', 'format': 'raw', 'sha256': 'a' * 64},
    'vm': {'apiVersion': 'ppn/v1', 'kind': 'VM', 'name': 'n', 'image': 'base',
           'memory': '64MiB', 'vcpus': 1, 'disk': '1GiB'},
    'placement': {'apiVersion': 'ppn/v1', 'kind': 'Placement', 'name': 'n', 'node': 'x'},
}

SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHHw6VT3P7MVoLzkvqYBo+fn83uA8tmLiENhQ3D01RCr'

# (kind, field, values the schema accepts, values it refuses)
FIELD_CASES = [
    ('network', 'name', ['a', '0', 'a-b', 'a' * 63], ['', '-a', 'a-', 'A', 'a_b', 'a' * 64, 1]),
    ('network', 'apiVersion', ['ppn/v1'], ['ppn/v2', 'v1']),
    ('network', 'overlay',
     ['10.77.0.0/24', '0.0.0.0/0', '10.77.0.128/25', '10.77.0.1/32', 'fd77::/64', '::/0',
      '2001:db8::/32', 'fd77::1/128'],
     ['10.77.0.1/24', '10.77.0.0/33', '10.77.0.0', '10.77.0.0/024', '10.077.0.0/24',
      '10.77.0.128/24', '300.0.0.0/8', 'fd77::/129', 'fd77::', 'fd77::/064', 'x/8']),
    ('network', 'interface', ['ppn0', 'a', 'wg_0.x-y', '...', 'a' * 15],
     ['', '.', '..', 'a' * 16, 'ppn 0', 'ppn/0', 0]),
    ('network', 'listenPort', [1, 51820, 65535], [0, 65536, '51820', True]),
    ('network', 'mtu', [1280, 1420, 9000], [1279, 9001, '1420']),
    ('network', 'controller', ['gcp-relay'], ['Gcp', '', None]),
    ('network', 'heartbeat', ['1s', '30s', '1000ms', '1m', '1h', '18446744073709551615ms'],
     ['0s', '999ms', '0ms', '30', '1h30m', '0.5s', '30 s', '30S', '030s', '1d', 30,
      '18446744073709551616ms']),
    ('network', 'admins',
     [[], [{'name': 'alice', 'sshKey': SSH_KEY + ' alice@acme.example'}],
      [{'name': 'bob', 'sshKey': SSH_KEY}], [{'name': 'bob', 'sshKey': SSH_KEY + ' '}],
      [{'name': 'a', 'sshKey': SSH_KEY}, {'name': 'b', 'sshKey': SSH_KEY + ' b c d'}]],
     [{}, None, [None], [{'name': 'alice'}], [{'sshKey': SSH_KEY}],
      [{'name': 'alice', 'sshKey': SSH_KEY, 'email': 'a@b'}],
      [{'name': 'Alice', 'sshKey': SSH_KEY}],
      [{'name': 'alice', 'sshKey': 'ssh-rsa ' + SSH_KEY[12:]}],
      [{'name': 'alice', 'sshKey': SSH_KEY[:-1]}],
      [{'name': 'alice', 'sshKey': SSH_KEY + 'A'}],
      [{'name': 'alice', 'sshKey': SSH_KEY[:-1] + '='}],
      [{'name': 'alice', 'sshKey': SSH_KEY.replace('AAAAI', 'AAAAJ')}],
      [{'name': 'alice', 'sshKey': SSH_KEY[:37] + 'Q' + SSH_KEY[38:]}],
      [{'name': 'alice', 'sshKey': SSH_KEY + ' a\x01b'}],
      [{'name': 'alice', 'sshKey': SSH_KEY + '\tcomment'}],
      [{'name': 'alice', 'sshKey': 'ssh-ed25519  ' + SSH_KEY[12:]}]]),
    ('network', 'allowMassRemoval', [True, False], ['true', 'yes', 1, None]),
    ('node', 'type', ['bare-metal', 'leased', 'cloud-vm'], ['cloud', 'Bare-metal', None]),
    ('node', 'labels', [{}, {'site': 'office', 'a-1': ''}],
     [{'Site': 'x'}, {'site': 1}, {'site': None}, {'site': True}, []]),
    ('node', 'cordoned', [True, False], ['yes', 'true', 0]),
    ('node', 'libvirtUri', ['qemu:///system', 'test:///default'], [None, 1]),
    ('peer', 'publicKey',
     ['KBFUROvAOD5uARVfnk5h9EEjCq0hRT+bsLr5LhNqUGo=',
      '+PhSZdH0j/wT3gcRvzJjNP00dSTH0jk0Owib0y0h8h0=', 'A' * 43 + '='],
     ['KBFUROvAOD5uARVfnk5h9EEjCq0hRT+bsLr5LhNqUGo', 'A' * 42 + 'B=', 'A' * 42 + '==',
      'A' * 44 + '=', 'A' * 41 + '-A=', '']),
    ('peer', 'address',
     ['10.77.0.2', '10.77.0.2/32', 'fd77::2', 'fd77::2/128', '::ffff:10.77.0.2'],
     ['10.77.0.2/24', 'fd77::2/64', '10.77.0.256', '010.77.0.2', '10.77.0.2/032',
      'fe80::1%eth0', 'host', '']),
    ('peer', 'endpoint',
     ['203.0.113.10:51820', '[2001:db8::1]:51820', 'relay.example.com:51820', 'relay:1',
      'r-1.example:65535'],
     ['203.0.113.10', '203.0.113.10:0', '203.0.113.10:65536', '2001:db8::1:51820',
      '[2001:db8::1]', 'relay.example.com', '-relay.example.com:1', 'relay..com:1',
      'a b:1', ':51820', '203.0.113.10:051820']),
    ('peer', 'relay', [False], ['yes', 'true']),
    ('peer', 'persistentKeepalive', ['1s', '25s', '65535s', '1000ms', '65535000ms', '1092m',
                                     '18h'],
     ['0s', '65536s', '1500ms', '999ms', '1093m', '19h', '25', '0h', '25.0s']),
    ('image', 'source', ['/srv/base.qcow2', 'http://example.com/a', 'https://example.com/a'],
     ['base.qcow2', 'ftp://example.com/a', 'file:///srv/a', '', '/']),
    ('image', 'format', ['qcow2', 'raw'], ['QCOW2', 'vmdk']),
    ('image', 'sha256', ['0' * 64, 'f' * 64], ['F' * 64, '0' * 63, '0' * 65, 'g' * 64]),
    ('vm', 'memory',
     ['64MiB', '65536KiB', '67108864B', '67109kB', '68MB', '1GB', '1GiB', '1TB', '1TiB',
      '16777215TiB', '18446744073709551615B'],
     ['63MiB', '65535KiB', '67108863B', '67108kB', '67MB', '0GiB', '2 GiB', '1.5GiB',
      '2gib', '064MiB', '512', 512, '2G', '16777216TiB', '18446744073709551616B']),
    ('vm', 'disk', ['1GiB', '1024MiB', '1048576KiB', '1073741824B', '1073742kB', '1074MB',
                    '2GB', '1TB'],
     ['1023MiB', '1GB', '1073MB', '1073741kB', '1073741823B', '0TiB']),
    ('vm', 'vcpus', [1, 2, 256], [0, 257, '2', 2.5]),
    ('vm', 'needs', [[], ['kvm']], [['KVM'], 'kvm', ['gpu']]),
    ('vm', 'pin', ['macbook-pro'], ['Macbook']),
    ('vm', 'cloudInit',
     [{}, {'userData': '#cloud-config\n', 'networkConfig': 'version: 2\n', 'generation': 0},
      {'generation': 4294967295}],
     [{'generation': -1}, {'generation': 4294967296}, {'generation': '1'},
      {'userData': None}, {'user-data': 'x'}]),
    ('placement', 'node', ['macbook-pro'], ['', None]),
    ('placement', 'reason', ['most free memory', ''], [None, 1]),
]


class SchemaTest(unittest.TestCase):
    def test_schemas_are_valid_2020_12(self):
        for name, schema in SCHEMAS.items():
            with self.subTest(schema=name):
                jsonschema.Draft202012Validator.check_schema(schema)
                self.assertEqual(schema['$schema'],
                                 'https://json-schema.org/draft/2020-12/schema')
                self.assertEqual(schema['$id'],
                                 f'https://ppn.invalid/schemas/{name}.schema.json')

    def test_shared_definitions_are_identical(self):
        seen = {}
        for name, schema in SCHEMAS.items():
            for key, definition in schema.get('$defs', {}).items():
                with self.subTest(schema=name, definition=key):
                    self.assertEqual(definition, seen.setdefault(key, definition))

    def test_every_property_has_a_title_and_description(self):
        def walk(node, where):
            if isinstance(node, dict):
                for key, sub in node.get('properties', {}).items():
                    with self.subTest(property=f'{where}.{key}'):
                        self.assertIn('title', sub)
                        self.assertIn('description', sub)
                for key, sub in node.items():
                    # Conditions restate properties that are described where they are
                    # defined.
                    if key not in ('if', 'then', 'else', 'not'):
                        walk(sub, f'{where}/{key}')
            elif isinstance(node, list):
                for i, sub in enumerate(node):
                    walk(sub, f'{where}/{i}')

        for name in KIND_SCHEMAS + ['plan']:
            walk(SCHEMAS[name], name)

    def test_minimal_manifests_are_valid(self):
        for kind, document in MINIMAL.items():
            with self.subTest(kind=kind):
                self.assertEqual(schema_errors(kind, document), [])
                self.assertEqual(schema_errors('manifest', document), [])

    def test_required_and_unknown_keys(self):
        for kind, document in MINIMAL.items():
            for key in document:
                with self.subTest(kind=kind, missing=key):
                    partial = {k: v for k, v in document.items() if k != key}
                    self.assertNotEqual(schema_errors(kind, partial), [])
                    self.assertNotEqual(schema_errors('manifest', partial), [])
            with self.subTest(kind=kind, unknown='extra'):
                self.assertNotEqual(schema_errors(kind, {**document, 'extra': 1}), [])
                self.assertNotEqual(schema_errors('manifest', {**document, 'extra': 1}), [])

    def test_kind_must_match_the_schema(self):
        for kind, document in MINIMAL.items():
            other = 'Node' if document['kind'] != 'Node' else 'Peer'
            with self.subTest(kind=kind):
                self.assertNotEqual(schema_errors(kind, {**document, 'kind': other}), [])
        self.assertNotEqual(schema_errors('manifest', {**MINIMAL['node'], 'kind': 'Pod'}), [])
        self.assertNotEqual(schema_errors('manifest', None), [])
        self.assertNotEqual(schema_errors('manifest', ['kind', 'Node']), [])

    def test_relay_needs_an_endpoint(self):
        relay = {**MINIMAL['peer'], 'relay': True}
        self.assertNotEqual(schema_errors('peer', relay), [])
        self.assertEqual(schema_errors('peer', {**relay, 'endpoint': '192.0.2.1:51820'}), [])

    def test_fields(self):
        for kind, field, good, bad in FIELD_CASES:
            for value in good:
                with self.subTest(kind=kind, field=field, value=value, expect='valid'):
                    self.assertEqual(schema_errors(kind, {**MINIMAL[kind], field: value}), [])
            for value in bad:
                with self.subTest(kind=kind, field=field, value=value, expect='invalid'):
                    self.assertNotEqual(schema_errors(kind, {**MINIMAL[kind], field: value}),
                                        [])


# ---- The plan schema ----

PLAN_DATA = TEST_DATA / 'plan'

# Each invalid plan and where its one problem is, so that a document refused for another
# reason than the one it was written for does not pass unnoticed.
INVALID_PLANS = {
    'format-version-2.json': '$.formatVersion',
    'commit-short.json': '$.commit',
    'extra-key.json': '$',
    'op-unknown.json': '$.actions[0].op',
    'kind-no-plugin.json': '$.actions[0].kind',
    'replace-without-reason.json': '$.actions[0].reason',
    'change-missing-new.json': '$.actions[0].changes[0]',
    'summary-negative.json': '$.summary.delete',
    'ref-missing.json': '$',
}


class PlanSchemaTest(unittest.TestCase):
    def test_valid_plans(self):
        files = sorted((PLAN_DATA / 'valid').glob('*.json'))
        self.assertTrue(files)
        for path in files:
            with self.subTest(plan=path.name):
                document = json.loads(path.read_text(encoding='utf-8'))
                self.assertEqual(schema_errors('plan', document), [])

    def test_valid_plans_keep_key_order_and_counts(self):
        # What a schema cannot say, checked on the examples so that they show the contract.
        plan = SCHEMAS['plan']
        action_keys = plan['$defs']['action']['required']
        change_keys = plan['$defs']['change']['required']
        ops = plan['properties']['summary']['required'][:-1]
        for path in sorted((PLAN_DATA / 'valid').glob('*.json')):
            with self.subTest(plan=path.name):
                document = json.loads(path.read_text(encoding='utf-8'))
                self.assertEqual(list(document), plan['required'])
                self.assertEqual(list(document['summary']), ops + ['total'])
                for action in document['actions']:
                    self.assertEqual(list(action), action_keys)
                    for change in action['changes']:
                        self.assertEqual(list(change), change_keys)
                counts = {op: sum(a['op'] == op for a in document['actions']) for op in ops}
                counts['total'] = len(document['actions'])
                self.assertEqual(document['summary'], counts)

    def test_invalid_plans(self):
        files = sorted((PLAN_DATA / 'invalid').glob('*.json'))
        self.assertEqual(sorted(p.name for p in files), sorted(INVALID_PLANS))
        for path in files:
            with self.subTest(plan=path.name):
                document = json.loads(path.read_text(encoding='utf-8'))
                errors = list(VALIDATORS['plan'].iter_errors(document))
                self.assertNotEqual(errors, [])
                where = {e.json_path for e in errors}
                self.assertEqual(where, {INVALID_PLANS[path.name]},
                                 [e.message for e in errors])


# ---- The example fleet and the corpus ----


class FleetChecks:
    """Assertions shared by the tests of whole fleets (mixed into unittest.TestCase)."""

    def check_fleet_valid(self, root, why=''):
        paths = manifest_paths(root)
        self.assertTrue(paths, f'no manifests under {root}')
        for relpath in paths:
            with self.subTest(file=relpath):
                try:
                    errors = check_manifest(relpath, (root / relpath).read_bytes())
                except Refused as err:
                    self.fail(f'{relpath}: refused by the strict loader: {err}{why}')
                self.assertEqual(errors, [], f'{relpath}{why}')

    def check_ppn(self, root, expected_rc, expected_stderr=None):
        if PPN is None:
            self.skipTest('PPN_BIN_PPN is not set: the C validator is not built '
                          '(meson sets it once engine/cli defines ppn_exe)')
        result = run_ppn_validate(root)
        self.assertEqual(result.returncode, expected_rc,
                         f'ppn validate exited {result.returncode}; stderr:\n{result.stderr}')
        if expected_stderr is not None:
            self.assertEqual(result.stderr, expected_stderr)


class ExampleFleetTest(FleetChecks, unittest.TestCase):
    def test_example_schema(self):
        self.check_fleet_valid(EXAMPLE_FLEET)

    def test_example_ppn(self):
        self.check_ppn(EXAMPLE_FLEET, 0, '')


class GoodCaseTest(FleetChecks, unittest.TestCase):
    """One pair of tests per tests/data/good/<case>, added below."""

    def check_schema(self, case):
        with tempfile.TemporaryDirectory(prefix='ppn-schema-') as tmp:
            root = pathlib.Path(tmp) / 'fleet'
            make_overlay(case, root)
            self.check_fleet_valid(root)

    def check_c(self, case):
        with tempfile.TemporaryDirectory(prefix='ppn-schema-') as tmp:
            root = pathlib.Path(tmp) / 'fleet'
            make_overlay(case, root)
            self.check_ppn(root, 0, '')


class BadCaseTest(FleetChecks, unittest.TestCase):
    """One pair of tests per tests/data/bad/<case>, added below."""

    def read_case(self, case):
        word = (case / 'schema').read_text(encoding='utf-8').strip()
        self.assertIn(word, SCHEMA_WORDS, f'{case.name}/schema')
        expected = (case / 'expected').read_text(encoding='utf-8')
        self.assertTrue(expected.strip(), f'{case.name}/expected is empty')
        return word, expected

    def check_schema(self, case):
        word, expected = self.read_case(case)
        with tempfile.TemporaryDirectory(prefix='ppn-schema-') as tmp:
            root = pathlib.Path(tmp) / 'fleet'
            make_overlay(case, root)
            if word == 'cross-file':
                self.check_fleet_valid(root, '; the Python side refuses this file on its own, '
                                       'which a cross-file case says it cannot')
                return
            for relpath in expected_paths(expected):
                with self.subTest(file=relpath):
                    self.check_refused(root, relpath, word)

    def check_refused(self, root, relpath, word):
        self.assertIsNotNone(schema_name(relpath),
                             f'{relpath} is not a manifest path: no schema applies to it')
        self.assertTrue((root / relpath).is_file(), f'{relpath} does not exist')
        data = (root / relpath).read_bytes()
        if word == 'syntax':
            with self.assertRaises(Refused, msg=f'the strict loader accepts {relpath}'):
                load_strict(data)
            return
        try:
            document = load_strict(data)
        except Refused as err:
            self.fail(f'{relpath}: refused by the strict loader ({err}), '
                      f'but the case says reject')
        kind = schema_name(relpath)
        self.assertNotEqual(schema_errors(kind, document), [],
                            f'{relpath}: {kind}.schema.json accepts it')
        self.assertNotEqual(schema_errors('manifest', document), [],
                            f'{relpath}: manifest.schema.json accepts it')

    def check_c(self, case):
        _, expected = self.read_case(case)
        with tempfile.TemporaryDirectory(prefix='ppn-schema-') as tmp:
            root = pathlib.Path(tmp) / 'fleet'
            make_overlay(case, root)
            self.check_ppn(root, 1, expected)


def add_case_tests(test_class, kind):
    for case in cases(kind):
        setattr(test_class, f'test_{case.name}_schema',
                lambda self, case=case: self.check_schema(case))
        setattr(test_class, f'test_{case.name}_ppn',
                lambda self, case=case: self.check_c(case))


add_case_tests(GoodCaseTest, 'good')
add_case_tests(BadCaseTest, 'bad')

if __name__ == '__main__':
    unittest.main(verbosity=2)
