from litestar.testing import TestClient

from gateway.app import create_app
from gateway.settings import Settings


def test_health_answers_success() -> None:
    with TestClient(app=create_app(Settings())) as client:
        response = client.get("/health")
    assert response.status_code == 200
    assert response.json()["status"] == "success"


def test_settings_read_port_from_environment() -> None:
    settings = Settings.from_env({"SERVICE_PORT": "9123", "LOG_LEVEL": "DEBUG"})
    assert settings.port == 9123
    assert settings.log_level == "DEBUG"
