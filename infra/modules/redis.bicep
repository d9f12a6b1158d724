// Azure Managed Redis (Redis 7.4: XAUTOCLAIM, and the consumer-group lag that KEDA's lagCount reads), with
// append-only persistence because the streams are the pipeline's state. Its password lives only in Key Vault.
param prefix string
param location string
param tags object
param identityPrincipalId string

resource cluster 'Microsoft.Cache/redisEnterprise@2024-10-01' = {
  name: '${prefix}-redis'
  location: location
  tags: tags
  sku: { name: 'Balanced_B1' }
  properties: { minimumTlsVersion: '1.2' }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2024-10-01' = {
  parent: cluster
  name: 'default'
  properties: {
    clientProtocol: 'Encrypted'
    port: 10000
    clusteringPolicy: 'EnterpriseCluster'
    evictionPolicy: 'NoEviction'
    persistence: { aofEnabled: true, aofFrequency: '1s' }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: take(replace('${prefix}-kv-${uniqueString(resourceGroup().id)}', '--', '-'), 24)
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
  }
}

resource password 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-password'
  properties: { value: database.listKeys().primaryKey }
}

resource connectionString 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: 'redis-connection'
  properties: { value: '${cluster.properties.hostName}:10000,password=${database.listKeys().primaryKey},ssl=True,abortConnect=False' }
}

var secretsUserRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')

resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, secretsUserRole)
  scope: vault
  properties: {
    roleDefinitionId: secretsUserRole
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

output hostName string = cluster.properties.hostName
output sslPort int = 10000
output keyVaultUri string = vault.properties.vaultUri
// Key Vault references (URIs, not values): the apps resolve them with their managed identity.
output redisAuthVaultUri string = password.properties.secretUri
output redisConnectionVaultUri string = connectionString.properties.secretUri
