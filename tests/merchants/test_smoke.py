def test_tenant_fixture_gives_a_live_merchant_with_a_working_key(tenant):
    response = tenant.client.get("/api/v1/merchant/")
    assert response.status_code == 200
    assert response.json()["slug"] == tenant.merchant.slug
