// Key Vault for every secret of the deployment (RBAC only; each secret is granted to the identities that need it, never
// the vault as a whole). Teacher keys are set by hand after the first provision (docs/deploy.md) and readable by the
// generation service's identity alone.
param prefix string
param location string
param tags object

@description('Names of the real teachers; each one\'s key is the secret "<name>-api-key".')
param teacherNames array

@description('Principal id of the one identity that reads the teacher keys (generation).')
param teacherKeyReader string

@description('Reachable only through a private endpoint.')
param privateNetworking bool

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
    publicNetworkAccess: privateNetworking ? 'Disabled' : 'Enabled'
    // The Container Apps platform resolves Key Vault references as a trusted service.
    networkAcls: { defaultAction: privateNetworking ? 'Deny' : 'Allow', bypass: 'AzureServices' }
  }
}

// The keys exist once set by hand (the first provision lists no teachers); each is granted to generation alone.
resource teacherKeys 'Microsoft.KeyVault/vaults/secrets@2023-07-01' existing = [for name in teacherNames: {
  parent: vault
  name: '${name}-api-key'
}]

var secretsUserRole = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')

resource teacherKeyAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [for (name, i) in teacherNames: {
  name: guid(vault.id, name, teacherKeyReader, secretsUserRole)
  scope: teacherKeys[i]
  properties: {
    roleDefinitionId: secretsUserRole
    principalId: teacherKeyReader
    principalType: 'ServicePrincipal'
  }
}]

output name string = vault.name
output id string = vault.id
output uri string = vault.properties.vaultUri
