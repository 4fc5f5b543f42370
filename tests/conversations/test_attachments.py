"""Attachments through their real entry points: the widget's multipart upload, the chat socket,
the file URLs, the inbox composer. Files land in a storage directory of the test's own (set
through STORAGES, as any other backend would be)."""

from __future__ import annotations

import io
import json
import uuid
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db.models import F
from django.test import Client
from PIL import Image

from conversations.bot.context import turn_input_load
from conversations.chat.attachments import attachments_delete
from conversations.chat.transcript_mail import transcript_text
from conversations.chat.widget_sessions import widget_session_open
from conversations.core.protocol import ProtocolError, parse_client_frame
from conversations.models import Attachment, Conversation, Message, Queue, Team, WidgetSite
from conversations.privacy.erasure import customer_data_erase
from conversations.privacy.export import customer_data_export
from conversations.privacy.retention import conversations_purge_expired
from conversations.privacy.subjects import data_subject_for_customer
from tests.conftest import ORIGIN
from tests.conversations.test_chat_protocol import connected

# Only the socket tests need committed rows (transaction=True truncates every table afterwards,
# seconds each); the HTTP-only tests run in a rolled-back transaction.
socket_test = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def attachment_dir(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "attachments": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "files")},
        },
    }
    return tmp_path / "files"


def png(width: int = 800, height: int = 600) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(out, format="PNG")
    return out.getvalue()


def jpeg_with_gps() -> bytes:
    image = Image.new("RGB", (640, 480), (10, 120, 200))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0131] = "Camera app 1.0"  # Software
    gps = exif.get_ifd(0x8825)
    gps[1], gps[2], gps[3], gps[4] = "N", (52.0, 31.0, 12.0), "E", (13.0, 24.0, 36.0)
    out = io.BytesIO()
    image.save(out, format="JPEG", exif=exif.tobytes())
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def upload(session, content: bytes, name: str, content_type: str = "image/png", *, token: str | None = None):
    file = io.BytesIO(content)
    file.name = name
    return Client().post(
        "/api/widget/attachments",
        {
            "conversation_id": str(session.conversation.public_id),
            "token": token or session.token,
            "file": file,
        },
        HTTP_ORIGIN=ORIGIN,
    )


def as_agent(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def move_to_a_queue_only_alice_serves(conversation: Conversation, alice) -> None:
    team = Team.objects.create(name="Returns team")
    team.members.add(alice)
    queue = Queue.objects.create(name="Returns")
    queue.teams.add(team)
    Conversation.objects.filter(pk=conversation.pk).update(queue=queue)


@socket_test
async def test_a_customer_sends_an_image_over_the_socket_and_only_those_who_may_see_it_can_fetch_it(
    widget_session, site, alice, bob, charlie
):
    answer = await sync_to_async(upload)(widget_session, png(), "screenshot.png", "text/plain")
    assert answer.status_code == 201, answer.content
    info = answer.json()
    assert info["content_type"] == "image/png" and info["name"] == "screenshot.png"
    assert info["url"].startswith(f"/attachments/{info['id']}/?token=")

    sender = await connected(widget_session)
    other_tab = await connected(widget_session)
    client_id = str(uuid.uuid4())
    await sender.send_json_to({"type": "message", "client_id": client_id, "attachment": info["id"]})
    assert (await sender.receive_json_from(timeout=5))["type"] == "ack"
    frame = await other_tab.receive_json_from(timeout=5)
    assert frame["type"] == "message" and frame["text"] == ""
    [sent] = frame["attachments"]
    assert {k: sent[k] for k in ("id", "name", "content_type", "size")} == {
        k: info[k] for k in ("id", "name", "content_type", "size")
    }
    assert sent["url"] == info["url"] and sent["thumbnail_url"].startswith(
        f"/attachments/{info['id']}/thumbnail?token="
    )
    await sender.disconnect()
    await other_tab.disconnect()
    # Another customer cannot send this upload as theirs (their socket would hand them a link to it).
    stranger = await sync_to_async(widget_session_open)(site_key=site.key, origin=ORIGIN)
    stranger_socket = await connected(stranger)
    await stranger_socket.send_json_to({"type": "message", "client_id": str(uuid.uuid4()), "attachment": info["id"]})
    assert (await stranger_socket.receive_json_from(timeout=5))["code"] == "not_found"
    await stranger_socket.disconnect()
    # The bot's turn learns that a file came, never the file or its name.
    turn = await sync_to_async(turn_input_load)(
        conversation_id=widget_session.conversation.pk, up_to_seq=1, history_messages=6
    )
    assert turn.question == "[sent an image]"

    def fetches():
        customer = Client().get(sent["url"])
        assert customer.status_code == 200
        assert customer["Content-Type"] == "image/png" and customer["X-Content-Type-Options"] == "nosniff"
        assert customer["Content-Disposition"].startswith("inline") and "sandbox" in customer["Content-Security-Policy"]
        assert Image.open(io.BytesIO(b"".join(customer.streaming_content))).size == (800, 600)
        thumbnail = Client().get(sent["thumbnail_url"])
        assert thumbnail.status_code == 200 and thumbnail["Content-Type"] == "image/webp"
        assert Image.open(io.BytesIO(b"".join(thumbnail.streaming_content))).size == (320, 240)

        # Another customer's token, no token, a staff member who is not an agent: as if it did not exist.
        stranger_token = upload(stranger, png(8, 8), "mine.png").json()["url"].split("token=")[1]
        bare = f"/attachments/{info['id']}/"
        assert Client().get(f"{bare}?token={stranger_token}").status_code == 404
        assert Client().get(bare).status_code == 404
        assert as_agent(charlie).get(bare).status_code == 404
        # Agents by the inbox's rules: alice serves the conversation's queue, bob does not.
        move_to_a_queue_only_alice_serves(widget_session.conversation, alice)
        assert as_agent(alice).get(bare).status_code == 200
        assert as_agent(bob).get(bare).status_code == 403
        # The transcript in alice's inbox shows the thumbnail linking to the file.
        page = as_agent(alice).get(f"/inbox/c/{widget_session.conversation.public_id}/").content.decode()
        assert f'href="/attachments/{info["id"]}/"' in page and f'src="/attachments/{info["id"]}/thumbnail"' in page
        assert "📎 screenshot.png" in page  # the list's preview of a message without text
        assert "You: [file: screenshot.png]" in transcript_text(conversation_id=widget_session.conversation.pk)

    await sync_to_async(fetches)()


@pytest.mark.django_db
def test_a_png_that_is_really_html_is_refused_and_nothing_is_stored(widget_session, attachment_dir):
    answer = upload(widget_session, b"<html><script>alert(1)</script></html>", "cat.png", "image/png")
    assert answer.status_code == 415 and answer.json()["error"]["code"] == "unsupported_type"
    assert not Attachment.objects.exists()
    assert not attachment_dir.exists() or not any(attachment_dir.iterdir())


@pytest.mark.django_db
def test_a_pdf_named_jpg_is_stored_and_served_as_a_pdf_download(widget_session):
    answer = upload(widget_session, PDF, "../../etc/invoice\x07.jpg", "image/jpeg")
    assert answer.status_code == 201
    info = answer.json()
    assert info["content_type"] == "application/pdf" and info["name"] == "invoice.pdf" and "thumbnail_url" not in info
    stored = Attachment.objects.get(public_id=info["id"])
    assert stored.storage_name.endswith(".pdf") and "invoice" not in stored.storage_name
    served = Client().get(info["url"])
    assert (
        served["Content-Type"] == "application/pdf"
        and served["Content-Disposition"] == 'attachment; filename="invoice.pdf"'
    )
    assert b"".join(served.streaming_content) == PDF


@pytest.mark.django_db
def test_a_file_over_the_sites_size_limit_is_refused(widget_session, site):
    site.attachments_max_mb = 1
    site.save(update_fields=["attachments_max_mb"])
    answer = upload(widget_session, PDF + b"0" * (1024 * 1024), "big.pdf")
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "too_large"
    site.attachments_allowed_types = ["application/pdf"]
    site.save(update_fields=["attachments_allowed_types"])
    refused = upload(widget_session, png(), "photo.png")
    assert refused.status_code == 415 and not Attachment.objects.exists()


@pytest.mark.django_db
def test_exif_and_gps_are_stripped_from_a_stored_photo(widget_session):
    original = Image.open(io.BytesIO(jpeg_with_gps()))
    assert original.getexif().get_ifd(0x8825)  # the upload really carries a position
    info = upload(widget_session, jpeg_with_gps(), "IMG_2041.JPG", "image/jpeg").json()
    stored = b"".join(Client().get(info["url"]).streaming_content)
    image = Image.open(io.BytesIO(stored))
    assert image.format == "JPEG" and image.size == (640, 480)
    assert not image.getexif() and "exif" not in image.info and b"PhoneMaker" not in stored


@pytest.mark.django_db
def test_an_agent_attaches_a_file_in_the_inbox_and_the_customer_gets_it(widget_session, alice):
    file = io.BytesIO(png(64, 64))
    file.name = "label.png"
    answer = as_agent(alice).post(
        f"/inbox/c/{widget_session.conversation.public_id}/reply", {"mode": "reply", "text": "", "file": file}
    )
    assert answer.status_code == 302
    message = Message.objects.get(conversation=widget_session.conversation, role=Message.Role.AGENT)
    [item] = message.extras["attachments"]
    assert item["name"] == "label.png" and Attachment.objects.get(public_id=item["id"]).message_id == message.pk
    bad = io.BytesIO(b"MZ\x90\x00 not an image")
    bad.name = "tool.png"
    refused = as_agent(alice).post(
        f"/inbox/c/{widget_session.conversation.public_id}/reply", {"mode": "reply", "text": "", "file": bad}
    )
    assert refused.status_code == 415 and Message.objects.filter(role=Message.Role.AGENT).count() == 1


@pytest.mark.django_db
def test_attachments_delete_removes_rows_and_files_once_committed(
    widget_session, attachment_dir, django_capture_on_commit_callbacks
):
    upload(widget_session, png(), "a.png")
    upload(widget_session, PDF, "b.pdf")
    assert len(list(attachment_dir.iterdir())) == 3  # image, its thumbnail, the PDF
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        assert attachments_delete(conversation_ids=[widget_session.conversation.pk]) == 2
    assert not Attachment.objects.exists() and len(list(attachment_dir.iterdir())) == 3  # files wait for the commit
    for callback in callbacks:
        callback()
    assert not Attachment.objects.exists() and not list(attachment_dir.iterdir())


@pytest.mark.django_db
def test_erasing_the_customer_or_purging_the_conversation_removes_their_files(
    widget_session, attachment_dir, site, django_capture_on_commit_callbacks
):
    upload(widget_session, png(), "passport-photo.png")
    export = customer_data_export(subject=data_subject_for_customer(customer=widget_session.conversation.customer))
    assert [a["content_type"] for a in export["customers"][0]["conversations"][0]["attachments"]] == ["image/png"]
    with django_capture_on_commit_callbacks(execute=True):
        customer_data_erase(subject=data_subject_for_customer(customer=widget_session.conversation.customer))
    assert not Attachment.objects.exists() and not list(attachment_dir.iterdir())

    other = widget_session_open(site_key=site.key, origin=ORIGIN)
    upload(other, PDF, "invoice.pdf")
    WidgetSite.objects.filter(pk=site.pk).update(retention_days=1)
    Conversation.objects.filter(pk=other.conversation.pk).update(
        created_at=F("created_at") - timedelta(days=3), updated_at=F("updated_at") - timedelta(days=3)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert conversations_purge_expired().conversations >= 1
    assert not Attachment.objects.exists() and not list(attachment_dir.iterdir())


def test_the_message_frame_carries_an_optional_upload_id_and_text_becomes_optional_with_it():
    upload_id = uuid.uuid4()
    frame = parse_client_frame(
        json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "attachment": str(upload_id)}),
        max_text_chars=100,
    )
    assert frame.attachment == upload_id and frame.text == ""
    with pytest.raises(ProtocolError) as no_text:
        parse_client_frame(
            json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "attachment": None}), max_text_chars=100
        )
    assert no_text.value.code == "bad_frame"
    with pytest.raises(ProtocolError) as bad_id:
        parse_client_frame(
            json.dumps({"type": "message", "client_id": str(uuid.uuid4()), "attachment": "../etc"}), max_text_chars=100
        )
    assert bad_id.value.code == "bad_frame"
