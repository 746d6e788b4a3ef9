"""Mail reaches a real SMTP server; the operator's check command says what went wrong."""

from tests.conftest import free_port


def test_the_mail_check_sends_a_real_message(runner, mail_outbox):
    result = runner.invoke(args=["mail", "check", "koordinator@helsedir.example"])
    assert result.exit_code == 0, result.output
    assert len(mail_outbox) == 1
    message = mail_outbox[0]
    assert message.envelope_recipients == ["koordinator@helsedir.example"]
    assert "migrasjonshelsenettverkene" in message["Subject"]
    assert "kommer fram" in message.get_content()


def test_the_mail_check_reports_an_unreachable_server(app_factory):
    app = app_factory(MAIL_PORT=free_port())
    result = app.test_cli_runner().invoke(args=["mail", "check", "koordinator@helsedir.example"])
    assert result.exit_code == 1
    assert "Could not send through 127.0.0.1" in result.output
