#!/usr/bin/env python3
"""Known-answer vectors for courier-proto, computed without it.

Everything here is rebuilt from the wire formats and derivations as the module docs describe them,
with Python's standard library and the `cryptography` package (X25519, Ed25519, HKDF, HMAC,
ChaCha20-Poly1305). XChaCha20-Poly1305 is HChaCha20 (written out below) then ChaCha20-Poly1305.
The Rust tests pin the hex this prints; run `python3 proto/vectors/known_answers.py` to see it again.
"""

import base64
import hashlib
import hmac
import struct

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey, X25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF, HKDFExpand

RAW = serialization.Encoding.Raw


def x25519_public(secret):
    return X25519PrivateKey.from_private_bytes(secret).public_key().public_bytes(RAW, serialization.PublicFormat.Raw)


def x25519(secret, public):
    return X25519PrivateKey.from_private_bytes(secret).exchange(X25519PublicKey.from_public_bytes(public))


def hkdf(salt, ikm, info):
    return HKDF(hashes.SHA256(), 32, salt, info).derive(ikm)


def hkdf_expand(prk, info):
    return HKDFExpand(hashes.SHA256(), 32, info).derive(prk)


def hmac256(key, data):
    return hmac.new(key, data, hashlib.sha256).digest()


def show(name, value):
    print(f"{name} = {value.hex() if isinstance(value, bytes) else value}")


# RFC 7748, section 6.1.
ALICE_SECRET = bytes.fromhex("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
BOB_SECRET = bytes.fromhex("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
ALICE = x25519_public(ALICE_SECRET)
BOB = x25519_public(BOB_SECRET)

print("# identity")
show("alice_handshake_public", ALICE)
show("signing_public of 09..09", Ed25519PrivateKey.from_private_bytes(bytes([9] * 32)).public_key().public_bytes(RAW, serialization.PublicFormat.Raw))
digest = hashlib.sha512(b"courier/v1/safety-number" + min(ALICE, BOB) + max(ALICE, BOB)).digest()
show("safety_number", " ".join(f"{int.from_bytes(digest[i:i + 5], 'big') % 100000:05}" for i in range(0, 60, 5)))

print("# contact link")
raw = bytes([2]) + ALICE
raw += hashlib.sha256(b"courier/v2/link" + raw).digest()[:7]
show("link", "courier://" + base64.b32encode(raw).decode().lower().rstrip("="))

print("# handshake: alice and bob of RFC 7748, ephemeral secrets 11..11 and 22..22")
A_EPH, B_EPH = bytes([0x11] * 32), bytes([0x22] * 32)
A_EPH_PUB, B_EPH_PUB = x25519_public(A_EPH), x25519_public(B_EPH)
assert ALICE < BOB  # alice's key sorts first: she is Role::Alice
show("hello_alice", bytes([1]) + A_EPH_PUB)
show("hello_bob", bytes([1]) + B_EPH_PUB)
ikm = x25519(A_EPH, B_EPH_PUB) + x25519(A_EPH, BOB) + x25519(ALICE_SECRET, B_EPH_PUB)
transcript = bytes([1]) + ALICE + BOB + A_EPH_PUB + B_EPH_PUB
master = hkdf(b"courier/v1/handshake", ikm, transcript)
show("proof_alice", hmac256(master, b"courier/v1/proof/alice"))
show("proof_bob", hmac256(master, b"courier/v1/proof/bob"))
show("root", hkdf_expand(master, b"courier/v1/root"))
show("static_secret", hkdf(b"courier/v1/static", x25519(ALICE_SECRET, BOB), ALICE + BOB))


def derive(secret, label, context):
    return hkdf_expand(secret, b"courier/v1/" + label + b"/" + context)


print("# transport keys: root 07..07, transport lan, start period 10")
period_secret = derive(bytes([7] * 32), b"transport", b"lan")
secrets = {10: period_secret}
for p in range(11, 14):
    secrets[p] = derive(secrets[p - 1], b"rotate", struct.pack(">Q", p))
for p in (10, 12, 13):
    show(f"period {p} alice tag", derive(secrets[p], b"tag", b"alice"))
    show(f"period {p} alice header", derive(secrets[p], b"header", b"alice"))
show("period 12 bob tag", derive(secrets[12], b"tag", b"bob"))
show("period 11 secret", secrets[11])

print("# class chains: root 07..07, the four-week class, start period 10, transports drive and mailbox")
chain = {10: derive(bytes([7] * 32), b"chain", struct.pack(">Q", 28 * 86_400_000))}
for p in range(11, 14):
    chain[p] = derive(chain[p - 1], b"rotate", struct.pack(">Q", p))
drive_12 = derive(chain[12], b"transport", b"drive")
show("chain drive period 12 alice tag", derive(drive_12, b"tag", b"alice"))
show("chain drive period 12 alice header", derive(drive_12, b"header", b"alice"))
show("chain drive period 13 bob tag", derive(derive(chain[13], b"transport", b"drive"), b"tag", b"bob"))
show("chain mailbox period 12 alice tag", derive(derive(chain[12], b"transport", b"mailbox"), b"tag", b"alice"))
show("chain period 11 step", chain[11])

print("# rendezvous: key 01..01, period 7")
show("rendezvous_tag", base64.b32encode(hmac256(bytes([1] * 32), b"courier/v1/rendezvous" + struct.pack(">Q", 7))[:10]).decode().lower())
print("# meeting secret: key 07..07")
show("meeting_secret", hmac256(bytes([7] * 32), b"courier/v1/meeting").hex())


def chacha_quarter(s, a, b, c, d):
    def rotl(v, n):
        return ((v << n) | (v >> (32 - n))) & 0xFFFFFFFF
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 16)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 12)
    s[a] = (s[a] + s[b]) & 0xFFFFFFFF; s[d] = rotl(s[d] ^ s[a], 8)
    s[c] = (s[c] + s[d]) & 0xFFFFFFFF; s[b] = rotl(s[b] ^ s[c], 7)


def hchacha20(key, nonce16):
    s = list(struct.unpack("<4I", b"expand 32-byte k")) + list(struct.unpack("<8I", key)) + list(struct.unpack("<4I", nonce16))
    for _ in range(10):
        for q in ((0, 4, 8, 12), (1, 5, 9, 13), (2, 6, 10, 14), (3, 7, 11, 15)):
            chacha_quarter(s, *q)
        for q in ((0, 5, 10, 15), (1, 6, 11, 12), (2, 7, 8, 13), (3, 4, 9, 14)):
            chacha_quarter(s, *q)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def xchacha20poly1305_seal(key, nonce24, plaintext, aad):
    return ChaCha20Poly1305(hchacha20(key, nonce24[:16])).encrypt(bytes(4) + nonce24[16:], plaintext, aad)


# HChaCha20 test vector of draft-irtf-cfrg-xchacha, section 2.2.1.
assert hchacha20(bytes(range(32)), bytes.fromhex("000000090000004a0000000031415927")).hex() == \
    "82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"

print("# stream: period 12 alice keys, stream 5, frame length 64, frame key 33..33, nonce 44..44")
tag_key, header_key = derive(secrets[12], b"tag", b"alice"), derive(secrets[12], b"header", b"alice")
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes  # noqa: E402
enc = Cipher(algorithms.AES(tag_key), modes.ECB()).encryptor()
stream_tag = enc.update(b"crtag/v2" + struct.pack(">Q", 5)) + enc.finalize()
frame_key, nonce = bytes([0x33] * 32), bytes([0x44] * 24)
header_plain = bytes([1]) + struct.pack(">QI", 5, 64) + frame_key
head = stream_tag + nonce + xchacha20poly1305_seal(header_key, nonce, header_plain, stream_tag)
show("stream head", head)
frames = b""
for number, (flags, payload) in enumerate([(0, b"hello, "), (1, b"world")]):
    body = bytes([flags]) + struct.pack(">I", len(payload)) + payload
    body += bytes(64 - 16 - len(body))
    frames += ChaCha20Poly1305(frame_key).encrypt(bytes(4) + struct.pack(">Q", number), body, b"")
show("stream frames", frames)


def message_id(timestamp, content_type, version, fallback, body):
    h = hashlib.sha256(b"courier/v1/message-id")
    h.update(struct.pack(">QI", timestamp, len(content_type)) + content_type)
    h.update(struct.pack(">II", version, len(fallback)) + fallback)
    h.update(struct.pack(">Q", len(body)) + body)
    return h.digest()


print("# sync records")
show("text id", message_id(1_700_000_000_000, b"courier/text", 1, b"", b"hi"))
show("image id", message_id(5, b"courier/image", 3, b"a photo", bytes([1, 2, 3])))

print("# attachment: 64 KiB + 3 bytes of i % 251, courier/voice version 2, at 9")
data = bytes(i % 251 for i in range(65536 + 3))
chunk_ids = [message_id(9, b"courier/chunk", 1, b"", data[i:i + 65536]) for i in range(0, len(data), 65536)]
manifest = struct.pack(">Q", len(data)) + hashlib.sha256(data).digest() + bytes([13]) + b"courier/voice" + struct.pack(">I", 2) + b"".join(chunk_ids)
show("manifest body", manifest)
show("manifest id", message_id(9, b"courier/attachment", 1, b"", manifest))


def varint(n):
    """postcard's unsigned integers: LEB128, seven bits a byte, low bits first."""
    out = b""
    while True:
        byte, n = n & 0x7F, n >> 7
        if n:
            out += bytes([byte | 0x80])
        else:
            return out + bytes([byte])


def string(s):
    """postcard's strings and byte vectors: a varint length, then the bytes."""
    return varint(len(s)) + s


print("# group: postcard's encoding by hand; a member key from secret 01..01")
member_key = Ed25519PrivateKey.from_private_bytes(bytes([1] * 32))
member = member_key.public_key().public_bytes(RAW, serialization.PublicFormat.Raw)
show("member public", member)
# GroupDescriptor { creator: [u8; 32], name: String, salt: [u8; 32] }: arrays go raw.
descriptor = member + string(b"Newsroom") + bytes([2] * 32)
show("descriptor", descriptor)
show("group id", hashlib.sha256(b"courier/v1/group-id" + descriptor).digest())
# RecordBody { group, author, timestamp_ms (varint), previous: Option (1 + id), kind: enum
# (varint variant index; Post is 1: parent None (0), content type, version (varint), fallback,
# body) }, in group 07..07 after record 03..03.
body = (bytes([7] * 32) + member + varint(1_700_000_000_000) + bytes([1]) + bytes([3] * 32)
        + varint(1) + bytes([0]) + string(b"courier/text") + varint(1) + string(b"") + string(b"hi"))
signature = member_key.sign(b"courier/v1/group-record" + body)
show("post record", string(body) + string(signature))
show("post id", hashlib.sha256(b"courier/v1/group-record-id" + body).digest())
# presence_tag(group 01..01, keys 03..03 and 04..04): the lower key first.
show("presence tag", hashlib.sha256(b"courier/v1/group-presence" + bytes([1] * 32) + bytes([3] * 32) + bytes([4] * 32)).digest())

print("# sealed: key 05..05, nonce 06..06, group 07..07, one day, at 1_700_000_000_000")
# Content { content_type, type_version (varint), fallback, body } under XChaCha20-Poly1305 with
# associated data "courier/v1/group-sealed" + group id; the key travels as a courier/group-chunk.
content = string(b"courier/text") + varint(1) + string(b"") + string(b"hi")
ciphertext = xchacha20poly1305_seal(bytes([5] * 32), bytes([6] * 24), content, b"courier/v1/group-sealed" + bytes([7] * 32))
key_id = message_id(1_700_000_000_000, b"courier/group-chunk", 1, b"", bytes([5] * 32))
# Wire { key: [u8; 32], lifetime_secs (varint), nonce: [u8; 24], ciphertext }: arrays go raw.
show("sealed post", key_id + varint(86_400) + bytes([6] * 24) + string(ciphertext))
# Timer { secs } is the record kind of index 5.
show("timer kind", varint(5) + varint(86_400))

print("# relation: a reaction 👍 to message 07..07, at 1_700_000_000_000, fallback \"reacted 👍\"")
# The payload is the target's id, then the kind's own body.
reaction = bytes([7] * 32) + "👍".encode()
show("reaction payload", reaction)
show("reaction id", message_id(1_700_000_000_000, b"courier/reaction", 1, "reacted 👍".encode(), reaction))

print("# receipt: messages 07..07 and 08..08 read, at 1_700_000_000_000")
# The body is the ids read, 32 bytes each; the fallback says how many.
receipt = bytes([7] * 32) + bytes([8] * 32)
show("receipt id", message_id(1_700_000_000_000, b"courier/receipt", 1, b"read 2 of your messages", receipt))
