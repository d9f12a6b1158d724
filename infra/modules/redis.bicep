// Azure Managed Redis (Redis 7.4: XAUTOCLAIM, and the consumer-group lag that KEDA's lagCount reads), with
// append-only persistence because the streams are the pipeline's state. Its password lives only in Key Vault, in two
// secrets granted one by one: the connection string to every service that uses Redis, the bare password to the apps
// whose KEDA rule reads the lag.
param prefix string
param location string
param tags object
param vaultName string

@description('Principal ids of the identities that read the connection string.')
param connectionReaders array

@description('Principal ids of the identities that read the password (KEDA rules).')
param passwordReaders array

@description('Reachable only through a private endpoint.')
param privateNetworking bool

resource cluster 'Microsoft.Cache/redisEnterprise@2025-07-01' = {
  name: '${prefix}-redis'
  location: location
  tags: tags
  sku: { name: 'Balanced_B1' }
  properties: {
    minimumTlsVersion: '1.2'
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
  }
}

resource database 'Microsoft.Cache/redisEnterprise/databases@2025-07-01' = {
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

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: vaultName
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

resource connectionAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for reader in connectionReaders: {
  name: guid(connectionString.id, reader, secretsUserRole)
  scope: connectionString
  properties: { roleDefinitionId: secretsUserRole, principalId: reader, principalType: 'ServicePrincipal' }
}]

resource passwordAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for reader in passwordReaders: {
  name: guid(password.id, reader, secretsUserRole)
  scope: password
  properties: { roleDefinitionId: secretsUserRole, principalId: reader, principalType: 'ServicePrincipal' }
}]

output id string = cluster.id
output hostName string = cluster.properties.hostName
output sslPort int = 10000
// Key Vault references (URIs, not values): the apps resolve them with their own managed identity.
output redisAuthVaultUri string = password.properties.secretUri
output redisConnectionVaultUri string = connectionString.properties.secretUri
