"""Calling the eaas API from Python: the standard library and botocore's SigV4 signer.

EAAS_ENDPOINT is the API's URL; AWS_REGION its region (default us-east-1); the credentials are
botocore's chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE with the shared files, ...).
Run: python3 eaas_example.py [key-id-or-alias]
"""

import base64
import json
import os
import sys
import tempfile
import urllib.error
import urllib.parse
import urllib.request

import botocore.session
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest

ENDPOINT = os.environ["EAAS_ENDPOINT"].rstrip("/")
# Plain http only to this machine (the local stack): anywhere else plaintexts, data keys and signed
# requests would cross the network in the clear. https certificates are verified (urllib's default).
_parsed = urllib.parse.urlsplit(ENDPOINT)
if _parsed.scheme != "https" and not (
    _parsed.scheme == "http" and _parsed.hostname in ("127.0.0.1", "localhost", "::1")
):
    sys.exit(f"EAAS_ENDPOINT must be https:// (plain http only to 127.0.0.1, localhost or ::1): {ENDPOINT}")
REGION = os.environ.get("AWS_REGION", "us-east-1")
CREDENTIALS = botocore.session.Session().get_credentials()
if CREDENTIALS is None:
    sys.exit("no AWS credentials found (set AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """The API never redirects; following one would send the signed headers to another URL."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"refused a redirect to {newurl}", headers, fp)


OPENER = urllib.request.build_opener(_NoRedirects)


class ApiError(Exception):
    """An error answer: the API's stable code, its HTTP status and the request id."""

    def __init__(self, status, body):
        self.status = status
        self.code = body.get("error", f"Http{status}")
        self.request_id = body.get("requestId")
        super().__init__(f"{status} {self.code}: {body.get('message', '')}")


def api_error(error):
    """The ApiError of a refusal: its JSON body, or its text when it is not JSON."""
    raw = error.read()
    try:
        parsed = json.loads(raw)
    except ValueError:
        parsed = {"message": raw.decode(errors="replace")}
    return ApiError(error.code, parsed)


def call(method, path, body=None, query=None, content_type="application/json"):
    """One request signed with SigV4 for execute-api; returns (status, headers, bytes)."""
    url = ENDPOINT + urllib.parse.quote(path, safe="/")
    if query:
        url += "?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote, safe="")
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    headers = {"content-type": content_type} if data is not None else {}
    request = AWSRequest(method=method, url=url, data=data, headers=headers)
    SigV4Auth(CREDENTIALS.get_frozen_credentials(), "execute-api", REGION).add_auth(request)
    prepared = urllib.request.Request(url, data=data, method=method, headers=dict(request.headers.items()))
    try:
        with OPENER.open(prepared, timeout=30) as answer:
            return answer.status, answer.headers, answer.read()
    except urllib.error.HTTPError as error:
        raise api_error(error) from None


def stream(path, out_file):
    """GET /v1/streams/...: a document of any size up to 200 MB, written to out_file as it arrives.

    The service answers only once it has authenticated the whole document; should its last check
    still fail, the transfer ends short, which http.client raises (IncompleteRead) rather than
    ending: a document written whole has x-eaas-size bytes, and only then is out_file written
    (from a .part file beside it, removed on any failure). Returns (status, bytes written).
    """
    url = ENDPOINT + urllib.parse.quote(path, safe="/")
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(CREDENTIALS.get_frozen_credentials(), "execute-api", REGION).add_auth(request)
    prepared = urllib.request.Request(url, method="GET", headers=dict(request.headers.items()))
    partial = out_file + ".part"  # renamed into place only once the whole document arrived
    try:
        with OPENER.open(prepared, timeout=30) as answer, open(partial, "wb") as out:
            written = 0
            while chunk := answer.read(64 * 1024):
                out.write(chunk)
                written += len(chunk)
            if written != int(answer.headers["x-eaas-size"]):
                raise OSError(f"{path}: {written} bytes of {answer.headers['x-eaas-size']}")
        os.replace(partial, out_file)
        return answer.status, written
    except urllib.error.HTTPError as error:
        raise api_error(error) from None
    finally:
        if os.path.exists(partial):
            os.remove(partial)


def call_json(method, path, body=None, query=None):
    return json.loads(call(method, path, body, query)[2])


def b64(data):
    return base64.b64encode(data).decode()


def main():
    key_id = sys.argv[1] if len(sys.argv) > 1 else "alias/eaas-default"
    me = call_json("GET", "/v1/whoami")
    print("whoami:", me["principal"])

    # Small payloads (up to the inline limit) go to KMS; bytes travel as base64.
    context = {"tenant": "acme"}
    sealed = call_json("POST", "/v1/encrypt", {"keyId": key_id, "plaintext": b64(b"hello"), "context": context})
    print("encrypt:", sealed["format"])
    opened = call_json("POST", "/v1/decrypt", {"ciphertext": sealed["ciphertext"], "context": context})
    assert base64.b64decode(opened["plaintext"]) == b"hello"
    print("decrypt: round trip ok")
    try:
        call_json("POST", "/v1/decrypt", {"ciphertext": sealed["ciphertext"], "context": {"tenant": "other"}})
    except ApiError as error:
        print("decrypt with another context:", error.status, error.code)

    # A data key for encrypting locally: use the plaintext copy, then overwrite it; keep the ciphertext.
    # (Best effort: Python's immutable str and bytes copies of it stay until collected.)
    data_key = call_json("POST", "/v1/data-keys", {"keyId": key_id, "keySpec": "AES_256", "context": context})
    plaintext_key = bytearray(base64.b64decode(data_key["plaintext"]))
    print("data key:", len(plaintext_key), "bytes, wrapped in", len(base64.b64decode(data_key["ciphertext"])))
    plaintext_key[:] = bytes(len(plaintext_key))

    # A small document: stored encrypted under the key, read back as it was given.
    document = "python/notes.txt"
    put = call("PUT", f"/v1/objects/{document}", b"meeting notes\n", {"keyId": key_id}, "text/plain")
    print("put:", put[0], json.loads(put[2])["format"])
    status, headers, content = call("GET", f"/v1/objects/{document}")
    assert content == b"meeting notes\n"
    print("get:", status, headers["content-type"], len(content), "bytes")
    # Larger documents (beyond the 4 MiB of GET /v1/objects) stream through GET /v1/streams/.
    copy_file = os.path.join(tempfile.mkdtemp(), "notes.txt")
    status, written = stream(f"/v1/streams/{document}", copy_file)
    with open(copy_file, "rb") as copy:
        assert copy.read() == b"meeting notes\n"
    os.remove(copy_file)
    os.rmdir(os.path.dirname(copy_file))
    print("stream:", status, written, "bytes")
    print("delete:", call_json("DELETE", f"/v1/objects/{document}")["deleted"])


if __name__ == "__main__":
    main()
