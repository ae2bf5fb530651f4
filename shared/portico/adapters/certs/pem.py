"""PEM certificate chains read with the standard library only: split, fingerprint, expiry.

The sidecar refreshes its trust bundle every few minutes for its whole life; doing that without `cryptography`
keeps that library (~9 MiB resident) out of the sidecar's steady state. Keys, CSRs and the checks of an issued
certificate stay in x509util, which only the certificate worker (portico.mesh.certworker) imports.
"""

from __future__ import annotations

import base64
import binascii
import calendar
import hashlib
import ssl

from portico.core.mtls.bundle import TrustAnchor
from portico.core.ports import CertSourceError

_BEGIN, _END = b"-----BEGIN CERTIFICATE-----", b"-----END CERTIFICATE-----"
MAX_CHAIN_BYTES = 1 << 20  # a CA bundle is kilobytes; anything near this is not one


def certificates(pem: bytes) -> list[bytes]:
    """The DER certificates of a PEM chain, in order; CertSourceError when there is none or one is not DER."""
    if len(pem) > MAX_CHAIN_BYTES:
        raise CertSourceError(f"not a PEM certificate chain: {len(pem)} bytes is too large")
    out = []
    for body in _blocks(pem):
        try:
            der = base64.b64decode(b"".join(body.split()), validate=True)
        except (binascii.Error, ValueError) as exc:
            raise CertSourceError(f"not a PEM certificate chain: {exc}") from exc
        not_after(der)  # a certificate's outer structure, or CertSourceError
        out.append(der)
    if not out:
        raise CertSourceError("not a PEM certificate chain: no certificate in it")
    return out


def _blocks(pem: bytes) -> list[bytes]:
    out, pos = [], 0
    while (start := pem.find(_BEGIN, pos)) >= 0:
        stop = pem.find(_END, start)
        if stop < 0:
            raise CertSourceError("not a PEM certificate chain: a certificate has no END line")
        out.append(pem[start + len(_BEGIN) : stop])
        pos = stop + len(_END)
    return out


def anchors(pem_blobs: list[bytes]) -> list[TrustAnchor]:
    """Trust anchors from PEM blobs, one per distinct certificate, in the order first seen."""
    out: dict[str, TrustAnchor] = {}
    for blob in pem_blobs:
        for der in certificates(blob):
            fingerprint = hashlib.sha256(der).hexdigest()
            pem = ssl.DER_cert_to_PEM_cert(der).encode("ascii")
            out.setdefault(fingerprint, TrustAnchor(fingerprint, pem, not_after(der)))
    return list(out.values())


def join_pem(*parts: bytes | str | None) -> bytes:
    """Concatenate PEM blocks, each ending in a newline."""
    out = b""
    for part in parts:
        if not part:
            continue
        data = part.encode() if isinstance(part, str) else part
        out += data.strip() + b"\n"
    return out


def not_after(der: bytes) -> float:
    """The end of a DER certificate's validity as a Unix time (RFC 5280 4.1: Certificate -> tbsCertificate ->
    [version] serialNumber signature issuer validity{notBefore notAfter})."""
    try:
        _, start, end = _tlv(der, 0, 0x30)  # Certificate
        _, pos, tbs_end = _tlv(der, start, 0x30)  # tbsCertificate
        if der[pos] == 0xA0:  # explicit [0] version
            pos = _tlv(der, pos, 0xA0)[2]
        for tag in (0x02, 0x30, 0x30):  # serialNumber, signature, issuer
            pos = _tlv(der, pos, tag)[2]
        _, pos, _ = _tlv(der, pos, 0x30)  # validity
        pos = _tlv(der, pos, der[pos])[2]  # notBefore
        tag, value, value_end = _tlv(der, pos, der[pos])
        if value_end > tbs_end or tbs_end > end:
            raise ValueError("fields run past their certificate")
        return _time(tag, der[value:value_end])
    except (IndexError, ValueError) as exc:
        raise CertSourceError(f"not an X.509 certificate: {exc}") from exc


def _tlv(der: bytes, pos: int, tag: int) -> tuple[int, int, int]:
    """(tag, value start, value end) of the DER element at `pos`, which must carry `tag`."""
    if der[pos] != tag:
        raise ValueError(f"expected tag {tag:#x} at byte {pos}, found {der[pos]:#x}")
    length = der[pos + 1]
    start = pos + 2
    if length & 0x80:
        count = length & 0x7F
        if not 1 <= count <= 4:
            raise ValueError(f"unsupported length of {count} bytes at byte {pos}")
        length = int.from_bytes(der[start : start + count], "big")
        start += count
    end = start + length
    if end > len(der):
        raise ValueError(f"element at byte {pos} runs past the end")
    return tag, start, end


def _time(tag: int, raw: bytes) -> float:
    text = raw.decode("ascii")
    if tag == 0x17 and len(text) == 13 and text.endswith("Z"):  # UTCTime YYMMDDHHMMSSZ (RFC 5280 4.1.2.5.1)
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    elif not (tag == 0x18 and len(text) == 15 and text.endswith("Z")):  # GeneralizedTime YYYYMMDDHHMMSSZ
        raise ValueError(f"unsupported time {text!r}")
    fields = (text[0:4], text[4:6], text[6:8], text[8:10], text[10:12], text[12:14])
    year, month, day, hour, minute, second = (int(f) for f in fields)
    return float(calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0)))
